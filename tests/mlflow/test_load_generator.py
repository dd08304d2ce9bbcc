"""``bench/mlflow_load.py`` (the MLflow-subset load generator) against a live server,
with a tiny workload: every request it makes must be answered as MLflow would."""

import importlib.util
import json

import pytest

from modelgate.core.services import token_create
from registry.models import ModelAlias, ModelVersion, RegisteredModel
from tests.conftest import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("mlflow-live")]


def _load_generator():
    spec = importlib.util.spec_from_file_location("mlflow_load", ROOT / "bench" / "mlflow_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_load_generator_runs_every_phase_without_an_error(live_server, run_jobs_inline, seeded_environments,
                                                              ds_owner, tmp_path):
    _, token = token_create(user=ds_owner, name="bench")
    report = tmp_path / "report.json"
    code = _load_generator().main([
        "--url", live_server.url, "--token", token, "--prefix", "lg", "--write-clients", "2",
        "--models-per-client", "2", "--versions-per-model", "2", "--read-clients", "1,2", "--reads", "12",
        "--json", str(report),
    ])
    results = json.loads(report.read_text())["results"]
    assert code == 0, results
    assert [(r["phase"], r["requests"], r["errors"]) for r in results] == [
        ("writes x2", 2 * 2 * (1 + 2 + 1), 0), ("reads x1", 12, 0), ("reads x2", 12, 0),
    ]
    assert RegisteredModel.objects.filter(name__startswith="lg-").count() == 4
    assert ModelVersion.objects.filter(registered_model__name__startswith="lg-").count() == 8
    assert ModelAlias.objects.filter(registered_model__name__startswith="lg-").exists()


def test_the_load_generator_reports_refused_requests_as_errors(live_server, seeded_environments, tmp_path):
    report = tmp_path / "report.json"
    code = _load_generator().main([
        "--url", live_server.url, "--token", "mg_not-a-token", "--write-clients", "1", "--models-per-client", "1",
        "--read-clients", "1", "--reads", "2", "--json", str(report),
    ])
    assert code == 1  # no model could be created, so no read phase ran
    (writes,) = json.loads(report.read_text())["results"]
    assert writes["errors"] == writes["requests"] == 1
    assert writes["first_errors"][0].startswith("create_model: 401") and "UNAUTHENTICATED" in writes["first_errors"][0]
    assert not RegisteredModel.objects.exists()


def test_the_load_generator_reads_chunked_answers():
    dechunk = _load_generator()._dechunk
    assert dechunk(b"4\r\nWiki\r\n5;name=value\r\npedia\r\n0\r\n\r\n") == b"Wikipedia"
    assert dechunk(b"0\r\n\r\n") == b""
