"""Content-addressed artifact storage.

Uploads stream to a temporary name in chunks while the SHA-256 and size are
computed (memory does not grow with file size), then move to ``sha256/ab/cd/<hash>``.
Identical bytes are stored once. A client-supplied hash that does not match,
or a size over the limit, stores nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import queue
import re
import threading
import uuid
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, storages
from django.db import IntegrityError, transaction

from modelgate.core.errors import ApplicationError, PayloadTooLargeError
from registry.models import ArtifactBlob

CHUNK_SIZE = 1024 * 1024
MAX_PATH_LENGTH = 500
# One path segment: plain ASCII letters, digits and a few punctuation marks. Anything
# else (spaces, '%', ':', unicode look-alikes) is refused rather than escaped, so a
# stored name means the same thing to every filesystem, object store and browser.
_SEGMENT = re.compile(r"^[A-Za-z0-9._+@=-]{1,255}$")


def sanitize_artifact_path(raw: str) -> str:
    """Return a safe relative path or raise ``ApplicationError`` (400) saying why.

    Artifact paths never touch the filesystem (blobs are stored by hash), but they
    are offered back as download names and by MLflow clients as local paths, so
    anything that could escape a folder is refused outright rather than rewritten.
    """

    def refuse(reason: str) -> ApplicationError:
        return ApplicationError(f"path: {reason}", code="invalid_path", fields={"path": [reason]})

    if not isinstance(raw, str) or not raw:
        raise refuse("A file name is required.")
    if len(raw) > MAX_PATH_LENGTH:
        raise refuse(f"At most {MAX_PATH_LENGTH} characters.")
    if "\x00" in raw or any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise refuse("NUL and control characters are not allowed.")
    if "\\" in raw:
        raise refuse("Backslashes are not allowed; use '/' between folders.")
    if "%" in raw:
        raise refuse("Percent-encoded sequences (such as %2e%2e) are not allowed.")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise refuse("Absolute paths are not allowed.")
    segments = raw.split("/")
    for segment in segments:
        if segment in ("..", "."):
            raise refuse("'.' and '..' segments are not allowed.")
        if segment == "":
            raise refuse("Empty path segments ('//' or a trailing '/') are not allowed.")
        if not _SEGMENT.match(segment):
            raise refuse(f"Segment {segment!r} may only contain letters, digits and '._+@=-'.")
    return raw


def artifact_store():
    return storages["artifacts"]


def blob_storage_name(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class _HashingReader:
    """File-like wrapper hashing and counting bytes as storage reads them."""

    def __init__(self, chunks: Iterator[bytes], max_bytes: int):
        self._chunks = chunks
        self._buffer = b""
        self.digest = hashlib.sha256()
        self.size = 0
        self.max_bytes = max_bytes

    def iter_checked(self) -> Iterator[bytes]:
        """Chunks as they come, hashed and counted: no re-buffering on the filesystem path."""
        for chunk in self._chunks:
            if not chunk:
                continue
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise PayloadTooLargeError(
                    f"The file is larger than the limit of {self.max_bytes} bytes.", fields={"file": ["too large"]}
                )
            self.digest.update(chunk)
            yield chunk

    # What django-storages' S3 backend asks of a file before uploading it: a stream, read once.
    closed = False

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            if not chunk:
                continue
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise PayloadTooLargeError(
                    f"The file is larger than the limit of {self.max_bytes} bytes.", fields={"file": ["too large"]}
                )
            self.digest.update(chunk)
            self._buffer += chunk
        if n < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data


def iter_chunks(fileobj, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    if hasattr(fileobj, "chunks"):
        yield from fileobj.chunks(chunk_size)
        return
    while True:
        chunk = fileobj.read(chunk_size)
        if not chunk:
            return
        yield chunk


def store_stream(
    chunks: Iterable[bytes], *, expected_sha256: str | None = None, max_bytes: int | None = None
) -> ArtifactBlob:
    """Stream bytes into the store and return the (possibly pre-existing) blob."""
    max_bytes = settings.ARTIFACT_MAX_BYTES if max_bytes is None else max_bytes
    if expected_sha256 is not None:
        expected_sha256 = expected_sha256.strip().lower()
        if len(expected_sha256) != 64 or any(c not in "0123456789abcdef" for c in expected_sha256):
            raise ApplicationError("sha256 must be 64 hex digits.", fields={"sha256": ["must be 64 hex digits"]})
    store = artifact_store()
    reader = _HashingReader(iter(chunks), max_bytes)
    temp_name = f"tmp/{uuid.uuid4().hex}"
    try:
        temp_name = _save_streaming(store, temp_name, reader)
    except BaseException:
        _delete_quietly(store, temp_name)
        raise
    sha256 = reader.digest.hexdigest()
    if expected_sha256 is not None and sha256 != expected_sha256:
        _delete_quietly(store, temp_name)
        raise ApplicationError(
            f"The uploaded content's SHA-256 is {sha256}, not the {expected_sha256} you sent; nothing was stored.",
            code="hash_mismatch",
            fields={"sha256": ["does not match the uploaded content"]},
        )
    final_name = blob_storage_name(sha256)
    existing = ArtifactBlob.objects.filter(sha256=sha256).first()
    if existing is not None and store.exists(existing.storage_name):
        _delete_quietly(store, temp_name)
        return existing
    _promote(store, temp_name, final_name)
    try:
        with transaction.atomic():
            blob, _ = ArtifactBlob.objects.get_or_create(
                sha256=sha256, defaults={"size": reader.size, "storage_name": final_name}
            )
    except IntegrityError:  # a concurrent upload of the same bytes won the insert
        blob = ArtifactBlob.objects.get(sha256=sha256)
    return blob


def _save_streaming(store, name: str, reader: _HashingReader) -> str:
    if isinstance(store, FileSystemStorage):
        # Write in chunks ourselves: FileSystemStorage.save() would need a sized File.
        path = store.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_pipelined(path, reader.iter_checked())
        return name
    return store.save(name, File(reader, name=name))


# Ask the kernel to start writing back every this many bytes while the upload is still
# arriving, so the final fsync only waits for the tail instead of the whole file.
WRITEBACK_STEP = 8 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start write-out of dirty pages, do not wait


def _load_sync_file_range():
    """libc's sync_file_range (Linux), or None where the platform has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start (not wait for) write-out of a byte range; a hint, so failures are ignored.

    Without it the kernel keeps a whole upload dirty in the page cache (up to
    dirty_background_ratio of RAM) and the final fsync writes all of it while the
    client waits; with it the disk works while the network does.
    """
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def _write_pipelined(path: str, chunks: Iterator[bytes], depth: int = 4) -> None:
    """Write ``chunks`` to ``path`` (then fsync) from a second thread.

    Receiving and hashing happen in the caller's thread while the previous chunks
    are written: hashlib and file writes both release the GIL, so the two overlap
    and an upload costs about max(hash, write) instead of their sum. The queue is
    bounded (``depth`` chunks), so memory stays flat however large the file.
    """
    pending: queue.Queue = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []

    def write() -> None:
        try:
            with open(path, "wb", buffering=0) as out:
                written = flushed = 0
                while (chunk := pending.get()) is not None:
                    view = memoryview(chunk)
                    while view:  # an unbuffered write may be partial
                        view = view[out.write(view):]
                    written += len(chunk)
                    if written - flushed >= WRITEBACK_STEP:
                        _start_writeback(out.fileno(), flushed, written - flushed)
                        flushed = written
                os.fsync(out.fileno())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
            while pending.get() is not None:  # keep draining so the producer never blocks
                pass

    writer = threading.Thread(target=write, name="artifact-writer", daemon=True)
    writer.start()
    try:
        for chunk in chunks:
            if failure:
                break
            pending.put(chunk)
    finally:
        pending.put(None)
        writer.join()
    if failure:
        raise failure[0]


def _promote(store, temp_name: str, final_name: str) -> None:
    if isinstance(store, FileSystemStorage):
        final_path = store.path(final_name)
        os.makedirs(os.path.dirname(final_path), exist_ok=True)
        os.replace(store.path(temp_name), final_path)  # atomic on one filesystem
        return
    if not store.exists(final_name):
        with store.open(temp_name, "rb") as handle:
            store.save(final_name, handle)
    _delete_quietly(store, temp_name)


def _delete_quietly(store, name: str) -> None:
    with contextlib.suppress(Exception):  # best-effort cleanup of a temporary file
        store.delete(name)


def open_blob(blob: ArtifactBlob):
    """Open a stored blob for reading (binary)."""
    return artifact_store().open(blob.storage_name, "rb")


def referenced_blobs():
    """(storage name, SHA-256, size) of every blob the database knows: what a backup must keep."""
    return ArtifactBlob.objects.order_by("sha256").values_list("storage_name", "sha256", "size").iterator()


def verify_blob(blob: ArtifactBlob) -> bool:
    """Re-hash the stored bytes and compare with the recorded SHA-256."""
    digest = hashlib.sha256()
    with open_blob(blob) as handle:
        for chunk in iter_chunks(handle):
            digest.update(chunk)
    return digest.hexdigest() == blob.sha256


def iter_blob_range(blob: ArtifactBlob, start: int = 0, length: int | None = None, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Stream ``length`` bytes of a blob from ``start`` (the whole rest when None), closing the file at the end."""
    remaining = blob.size - start if length is None else length
    handle = open_blob(blob)
    try:
        if start:
            handle.seek(start)
        while remaining > 0:
            data = handle.read(min(chunk_size, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


def collect_garbage(*, older_than_seconds: int = 24 * 3600) -> dict:
    """Delete blobs no artifact refers to, and abandoned temporary uploads, older than the grace period.

    An upload stores its blob before the artifact row is written (streaming happens
    outside any transaction); if the row is then refused (the version was finalized
    meanwhile) or the process dies, the bytes are left behind. The grace period keeps
    uploads in flight safe.
    """
    import datetime as dt

    from django.utils import timezone

    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    store = artifact_store()
    removed_blobs = 0
    for blob in ArtifactBlob.objects.filter(artifacts__isnull=True, created_at__lt=cutoff).iterator():
        with transaction.atomic():
            # Re-check under the delete: an upload may have attached it a moment ago.
            deleted, _ = ArtifactBlob.objects.filter(pk=blob.pk, artifacts__isnull=True).delete()
        if deleted:
            _delete_quietly(store, blob.storage_name)
            removed_blobs += 1
    removed_temp = 0
    if isinstance(store, FileSystemStorage) and os.path.isdir(store.path("tmp")):
        for entry in os.scandir(store.path("tmp")):
            if entry.is_file() and entry.stat().st_mtime < cutoff.timestamp():
                _delete_quietly(store, f"tmp/{entry.name}")
                removed_temp += 1
    return {"blobs": removed_blobs, "temporary_files": removed_temp}
