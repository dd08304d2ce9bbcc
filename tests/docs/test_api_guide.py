"""docs/api-guide.md cannot rot: every fenced ``bash`` and ``python`` block runs, in
order, against a live server.

Bash blocks run with ``set -euo pipefail`` (so a failing ``curl -f`` fails the
test) and share their exported variables through a state file, as one shell
session would; python blocks run in a subprocess with that environment.
``python manage.py create_token`` runs for real, against the test database.
"""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from governance.models import Deployment, Environment, PromotionRequest
from monitoring.models import Report
from monitoring.telemetry.models import PredictionEvent
from registry.models import ModelVersion

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "api-guide.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```$", re.MULTILINE | re.DOTALL)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("docs-live")]


def guide_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(GUIDE.read_text())


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def environments(db):
    # Transactional tests flush the data migrations' rows: seed the real policies again.
    ContentType.objects.clear_cache()
    seeded = importlib.import_module("governance.migrations.0002_seed_environments")
    for values in seeded.ENVIRONMENTS:
        Environment.objects.update_or_create(slug=values["slug"], defaults=values)


def _run(kind: str, code: str, cwd: Path, env: dict) -> dict:
    """Run one block; return the environment it leaves (exported variables)."""
    if kind == "bash":
        state, dump = cwd / ".state.sh", cwd / ".env.bin"
        script = (f"set -euo pipefail\n[ -f {state} ] && source {state}\n{code}\n"
                  f"export -p > {state}\nenv -0 > {dump}\n")
        result = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    else:
        dump = None
        result = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{kind} block failed ({result.returncode}):\n{code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if dump is None:
        return env
    pairs = (item.split("=", 1) for item in dump.read_bytes().decode().split("\0") if "=" in item)
    return dict(pairs)


def test_it_has_curl_and_mlflow_examples_for_every_step():
    code = "\n".join(block for _, block in guide_blocks())
    for needle in ("manage.py create_token", "X-Content-SHA256", "/finalize/", "/promotion-requests/\"", "/approve/",
                   "/ci-test-results/", "/telemetry/events/", r'\"kind\": \"fairness\"', "registry_uri=url",
                   "mlflow.register_model", "set_registered_model_alias", "search_model_versions"):
        assert needle in code, needle
    assert {kind for kind, _ in guide_blocks()} == {"bash", "python"}


def test_it_runs_every_example_of_the_api_guide(live_server, tmp_path, ds_owner, mle_teammate, environments, run_jobs_inline, monkeypatch):
    env = {
        **os.environ,
        "MODELGATE_URL": live_server.url,
        "DATABASE_URL": _database_url(),  # manage.py create_token writes to the test database
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",  # an error must surface, not be retried for minutes
    }
    (tmp_path / "manage.py").symlink_to(ROOT / "manage.py")
    blocks = guide_blocks()
    assert len(blocks) >= 10
    for kind, code in blocks:
        env = _run(kind, code, tmp_path, env)

    # What the guide claims happened, happened.
    first = ModelVersion.objects.get(registered_model__name="loan-pd", version=1)
    assert first.status == "ready" and first.artifacts.filter(path="model/model.skops").exists()
    request = PromotionRequest.objects.get(version=first, environment__slug="uat")
    assert request.state == "deployed" and request.approvals.get().user == mle_teammate
    assert Deployment.objects.filter(registered_model=first.registered_model, environment__slug="uat", status="active").exists()
    assert PredictionEvent.objects.count() == 2
    assert Report.objects.get(version=first, kind="fairness").status == "succeeded"
    via_mlflow = ModelVersion.objects.get(registered_model__name="loan-pd", version=2)
    assert via_mlflow.registered_model.aliases.get(alias="challenger").version == via_mlflow
