"""Artifact upload and download: hashes, names, limits, dedup, Range."""

import hashlib
import os

import pytest

from modelgate.core.errors import ApplicationError
from registry import storage
from registry.models import Artifact, ArtifactBlob
from tests.conftest import api_for
from tests.registry.factories import make_model, make_version, sha, upload

V = "/api/v1/models/credit-scorer/versions/1"
DATA = bytes(range(256)) * 40  # 10 KiB


@pytest.fixture
def version(ds_owner, team_credit):
    return make_version(ds_owner, make_model(ds_owner, team_credit))


def put(client, path, data=DATA, **extra):
    return client.put(f"{V}/artifacts/{path}", data=data, content_type="application/octet-stream", **extra)


def stored_files(root) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


def test_it_streams_an_upload_and_serves_it_back_with_etag(ds_owner, version, artifact_store):
    client = api_for(ds_owner)
    response = put(client, "model/model.skops?kind=model", HTTP_X_CONTENT_SHA256=sha(DATA))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == sha(DATA) and body["size"] == len(DATA) and body["kind"] == "model"
    assert body["path"] == "model/model.skops"
    download = client.get(f"{V}/artifacts/model/model.skops")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == DATA
    assert download["Content-Length"] == str(len(DATA)) and download["ETag"] == f'"{sha(DATA)}"'
    assert download["Accept-Ranges"] == "bytes"
    assert client.get(f"{V}/artifacts/model/model.skops", HTTP_IF_NONE_MATCH=f'"{sha(DATA)}"').status_code == 304
    # On disk the file is named by its hash, never by the client's path.
    assert [os.path.basename(p) for p in stored_files(artifact_store)] == [sha(DATA)]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, len(DATA) - 1), ("bytes=-10", len(DATA) - 10, len(DATA) - 1), ("bytes=10-999999", 10, len(DATA) - 1)],
)
def test_it_serves_byte_ranges(ds_owner, version, header, start, end):
    upload(ds_owner, version, "model.bin", DATA)
    response = api_for(ds_owner).get(f"{V}/artifacts/model.bin", HTTP_RANGE=header)
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == DATA[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response["Content-Length"] == str(end - start + 1)


@pytest.mark.parametrize("header", ["bytes=999999-", "bytes=-0", "bytes=50-10"])
def test_it_answers_416_for_unsatisfiable_ranges(ds_owner, version, header):
    upload(ds_owner, version, "model.bin", DATA)
    response = api_for(ds_owner).get(f"{V}/artifacts/model.bin", HTTP_RANGE=header)
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(DATA)}"


def test_it_refuses_a_wrong_hash_and_stores_nothing(ds_owner, version, artifact_store):
    response = put(api_for(ds_owner), "model.bin", HTTP_X_CONTENT_SHA256="0" * 64)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "hash_mismatch" and "sha256" in response.json()["error"]["fields"]
    assert not Artifact.objects.exists() and not ArtifactBlob.objects.exists()
    assert stored_files(artifact_store) == []


@pytest.mark.parametrize(
    "path",
    ["../escape.bin", "a/../../escape.bin", "%2e%2e/escape.bin", "/etc/passwd", "a\\..\\b.bin", "nul\x00.bin", "bell\x07.bin",
     "a//b.bin", "./x.bin", "C:/windows.bin", "%252e%252e/x"],
)
def test_it_refuses_dangerous_file_names_before_reading_the_body(ds_owner, version, artifact_store, path):
    response = put(api_for(ds_owner), path)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_path"
    assert not Artifact.objects.exists() and stored_files(artifact_store) == []


@pytest.mark.parametrize("path", ["../x", "/abs", "a\\b", "x\x00y", "tab\there", "%2e%2e/x", "..", "a/./b", "a/"])
def test_service_refuses_dangerous_file_names(path):
    with pytest.raises(ApplicationError) as info:
        storage.sanitize_artifact_path(path)
    assert info.value.fields == {"path": [info.value.message.removeprefix("path: ")]}


def test_it_answers_413_for_an_oversized_file_and_stores_nothing(ds_owner, version, artifact_store, settings):
    settings.ARTIFACT_MAX_BYTES = 1000
    response = put(api_for(ds_owner), "big.bin")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    # A stream longer than its announced size is cut off while streaming, too.
    with pytest.raises(ApplicationError) as info:
        storage.store_stream(iter([b"x" * 600, b"x" * 600]))
    assert info.value.status_code == 413
    assert not ArtifactBlob.objects.exists() and stored_files(artifact_store) == []


def test_it_needs_a_content_length(ds_owner, version):
    from rest_framework.test import APIRequestFactory

    from registry.api.views import ArtifactView

    request = APIRequestFactory().put(f"{V}/artifacts/x.bin", data=b"abc", content_type="application/octet-stream")
    del request.META["CONTENT_LENGTH"]
    from rest_framework.test import force_authenticate

    force_authenticate(request, user=ds_owner)
    response = ArtifactView.as_view()(request, name="credit-scorer", version="1", path="x.bin")
    assert response.status_code == 411


def test_it_stores_identical_bytes_once(ds_owner, version, team_credit, artifact_store):
    other = make_version(ds_owner, version.registered_model)
    upload(ds_owner, version, "a.bin", DATA)
    upload(ds_owner, other, "b.bin", DATA)
    assert Artifact.objects.count() == 2 and ArtifactBlob.objects.count() == 1
    assert len(stored_files(artifact_store)) == 1
    assert storage.verify_blob(ArtifactBlob.objects.get())


def test_it_never_overwrites_an_artifact_path(ds_owner, version):
    client = api_for(ds_owner)
    assert put(client, "model.bin").status_code == 201
    again = put(client, "model.bin", data=b"other")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_exists"
    assert Artifact.objects.get().blob_id == hashlib.sha256(DATA).hexdigest()


def test_it_streams_a_multi_chunk_upload_through_the_service(ds_owner, version):
    chunks = [os.urandom(storage.CHUNK_SIZE) for _ in range(3)] + [b"tail"]
    artifact = upload(ds_owner, version, "weights.bin", b"")  # empty files are legal
    assert artifact.blob.size == 0
    from registry import services

    big = services.artifact_upload(user=ds_owner, version=version, path="w2.bin", chunks=iter(chunks), kind="model")
    assert big.blob.size == 3 * storage.CHUNK_SIZE + 4
    assert big.blob.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_it_accepts_the_hash_as_a_query_parameter_too(ds_owner, version):
    client = api_for(ds_owner)
    assert put(client, f"a.bin?sha256={sha(DATA).upper()}").status_code == 201
    wrong = put(client, f"b.bin?sha256={'1' * 64}")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "hash_mismatch"
    assert put(client, "c.bin?sha256=xyz").status_code == 400


def test_it_serves_uploaded_html_as_an_opaque_download(ds_owner, version):
    client = api_for(ds_owner)
    client.put(f"{V}/artifacts/report.html", data=b"<script>alert(1)</script>", content_type="text/html")
    response = client.get(f"{V}/artifacts/report.html")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert client.get(f"{V}/artifacts/").json()[0]["content_type"] == "text/html"


def test_it_collects_orphan_blobs_and_abandoned_temporary_files(ds_owner, version, artifact_store):
    import datetime as dt

    from django.utils import timezone

    kept = upload(ds_owner, version, "kept.bin", b"kept")
    orphan = storage.store_stream([b"orphan"])  # stored, but its artifact row was never written
    (artifact_store / "tmp").mkdir(parents=True, exist_ok=True)
    (artifact_store / "tmp" / "abandoned").write_bytes(b"half an upload")
    assert storage.collect_garbage(older_than_seconds=3600) == {"blobs": 0, "temporary_files": 0}  # grace period
    ArtifactBlob.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    old = (timezone.now() - dt.timedelta(days=2)).timestamp()
    os.utime(artifact_store / "tmp" / "abandoned", (old, old))
    assert storage.collect_garbage(older_than_seconds=3600) == {"blobs": 1, "temporary_files": 1}
    assert list(ArtifactBlob.objects.values_list("sha256", flat=True)) == [kept.blob_id]
    assert [os.path.basename(p) for p in stored_files(artifact_store)] == [kept.blob_id]
    assert orphan.sha256 != kept.blob_id


def test_the_garbage_command_runs(db):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("collect_artifact_garbage", "--older-than-hours", "1", stdout=out)
    assert "Removed 0 orphan blobs" in out.getvalue()
