"""Source URI validation (``registry.sources``, used by the version service for every
surface): remote stores and registry references only; nothing that reads the server's
disk or climbs out of a prefix, in any encoding. What a reference names is checked by
the service against the user's visibility (tests/security/test_invariants.py)."""

import pytest

from modelgate.core.errors import ApplicationError
from registry.sources import Reference, reference, validate_source_uri

ACCEPTED = [
    "s3://models-bucket/credit/scorer/1",
    "s3a://bucket/key",
    "gs://bucket/path/model",
    "wasbs://account.blob.core.windows.net/container/model",
    "abfss://account.dfs.core.windows.net/fs/model",
    "https://artifacts.example.com/models/scorer.tar.gz",
    "models:/credit-scorer/3",
    "runs:/0123456789abcdef/model",
    "mlflow-artifacts:/1/abc/artifacts/model",
    "modelgate:blobs/" + "a" * 64,
    "modelgate:models/credit-scorer/3",
    "models:/credit-scorer@champion",
    "s3://bucket/model.v1/file.name",
]

REFUSED = [
    "file:///etc/passwd",
    "FILE:/tmp/model",
    "/srv/models/model.pkl",
    "relative/path/model",
    "./model",
    "~/model",
    "C:\\models\\m.pkl",
    "c:/models/m.pkl",
    "s3://bucket/../other-team/model",
    "s3://bucket/a/..",
    "s3://bucket/%2e%2e/secret",
    "s3://bucket/%2E%2E/secret",
    "s3://bucket/%252e%252e/secret",  # double-encoded
    "s3://bucket/%25252e%25252e/secret",  # triple-encoded
    "s3://bucket/..;/secret",  # path parameter trick
    "s3://bucket/%2e%2e%3b/secret",
    "s3://bucket/.%2e/secret",
    "s3://bucket/%c0%ae%c0%ae/secret",  # overlong UTF-8 dot
    "s3://bucket/\uff0e\uff0e/secret",  # fullwidth dots
    "s3://bucket/a\\b",
    "s3://bucket/a%5c..%5cb",
    "s3://bucket/model\x00.pkl",
    "s3://bucket/model%00.pkl",
    "s3://bucket/model%0a.pkl",
    "http://insecure.example.com/model",
    "ftp://host/model",
    "hdfs://namenode/model",
    "https:///no-host",
    "https://user:pw@host/model",
    "s3://",
    "",
    "   ",
    "s3://bucket/%" + "25" * 6 + "2e",  # more encoding layers than we decode
    "s3://bucket/" + "x" * 1001,
    "modelgate:blobs/not-a-hash",
    "modelgate:etc/passwd",
    "modelgate:models/credit-scorer/latest",
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_it_accepts_remote_store_uris(uri):
    assert validate_source_uri(uri) == uri


@pytest.mark.parametrize("uri", REFUSED)
def test_it_refuses_local_traversing_or_unknown_uris(uri):
    with pytest.raises(ApplicationError) as info:
        validate_source_uri(uri)
    assert info.value.status_code == 400 and info.value.code == "invalid"
    assert list(info.value.fields) == ["source_uri"] and info.value.message.startswith("source_uri: ")


def test_it_refuses_non_strings():
    for value in (None, 42, ["s3://bucket/m"], {"uri": "s3://bucket/m"}):
        with pytest.raises(ApplicationError):
            validate_source_uri(value)


@pytest.mark.parametrize(("uri", "expected"), [
    ("s3://bucket/model", None),
    ("runs:/0123456789abcdef/model", None),
    ("models:/m-0123456789abcdef", None),  # an MLflow logged-model id, not a registered model
    ("modelgate:blobs/" + "a" * 64, Reference(sha256="a" * 64)),
    ("MODELGATE:blobs/" + "a" * 64, Reference(sha256="a" * 64)),
    ("modelgate:models/credit-scorer/3", Reference(model="credit-scorer", version=3)),
    ("models:/credit-scorer/3", Reference(model="credit-scorer", version=3)),
    ("models:/credit-scorer@champion", Reference(model="credit-scorer")),
    ("models:/credit-scorer/Production", Reference(model="credit-scorer")),
])
def test_it_reads_what_a_source_names_in_this_registry(uri, expected):
    assert reference(uri) == expected
