"""Serve plotly.js straight from the plotly wheel instead of copying it into static/."""

import os

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_STATIC_PATH = "vendor/plotly/plotly.min.js"


def _plotly_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    return os.path.join(os.path.dirname(spec.origin), "package_data")


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=_plotly_dir())
        self.storage.prefix = "vendor/plotly"

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path == PLOTLY_STATIC_PATH:
            full = os.path.join(_plotly_dir(), "plotly.min.js")
            return [full] if find_all else full
        return [] if find_all else None

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
