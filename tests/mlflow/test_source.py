"""Source URI validation: remote stores and registry references only; nothing
that reads the server's disk or climbs out of a prefix, in any encoding."""

import pytest

from registry.mlflow.source import validate_source
from registry.mlflow.wire import MlflowError

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
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_it_accepts_remote_store_uris(uri):
    assert validate_source(uri) == uri


@pytest.mark.parametrize("uri", REFUSED)
def test_it_refuses_local_traversing_or_unknown_uris(uri):
    with pytest.raises(MlflowError) as info:
        validate_source(uri)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.status == 400


def test_it_refuses_non_strings():
    for value in (None, 42, ["s3://bucket/m"], {"uri": "s3://bucket/m"}):
        with pytest.raises(MlflowError):
            validate_source(value)
