"""JSON parser that answers a 400 for a body nested too deeply to decode.

Python's decoder raises RecursionError (not ValueError) past ~1,000 levels, which DRF's
JSONParser lets through as a 500; a few kilobytes of brackets must not do that."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
