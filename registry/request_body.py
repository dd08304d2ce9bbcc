"""Read an upload's raw body in chunks through Django's request stream."""

from __future__ import annotations

from collections.abc import Iterator

from modelgate.core.errors import ApplicationError


class IncompleteBodyError(ApplicationError):
    """The client closed the connection before sending Content-Length bytes."""

    def __init__(self, expected: int, received: int):
        super().__init__(
            f"The connection closed after {received} of the {expected} bytes announced by Content-Length; nothing was stored.",
            code="incomplete_body",
            fields={"file": ["incomplete upload"]},
        )


def iter_request_body(request, chunk_size: int) -> Iterator[bytes]:
    """Yield the body of a Django ``HttpRequest`` in chunks of at most ``chunk_size``
    bytes, through ``request.read()`` (bounded by Content-Length); raise
    ``IncompleteBodyError`` if the client sent fewer bytes than it announced."""
    announced = request.META.get("CONTENT_LENGTH") or ""
    expected = int(announced) if announced.isdigit() else None
    received = 0
    while chunk := request.read(chunk_size):
        received += len(chunk)
        yield chunk
    if expected is not None and received < expected:
        raise IncompleteBodyError(expected, received)
