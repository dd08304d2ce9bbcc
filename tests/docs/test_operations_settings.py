"""Every setting docs/operations.md tells an operator to set reaches the containers:
docker-compose.yml passes it from .env, and .env.example lists it."""

import re

from tests.conftest import ROOT

# Not from .env: the image sets PG_BIN_DIR, compose builds DATABASE_URL from POSTGRES_PASSWORD.
SET_ELSEWHERE = {"PG_BIN_DIR", "DATABASE_URL"}


def operations_settings() -> set[str]:
    settings = (ROOT / "modelgate" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\("([A-Z][A-Z0-9_]+)"', settings))
    operations = (ROOT / "docs" / "operations.md").read_text()
    return {name for name in read if re.search(rf"`{name}[`=]", operations)}


def test_compose_and_env_example_pass_every_setting_the_operations_guide_names():
    names = operations_settings() - SET_ELSEWHERE
    assert {"REPORT_EXPLAIN_CHUNK_ROWS", "JOB_STALE_CHUNK_SECONDS", "BROKER_VISIBILITY_TIMEOUT", "DB_CONN_MAX_AGE"} <= names
    compose = (ROOT / "docker-compose.yml").read_text()
    env_example = (ROOT / ".env.example").read_text()
    for name in sorted(names):
        assert f"{name}: ${{{name}:-" in compose, f"{name} not passed by docker-compose.yml"
        assert re.search(rf"^#? ?{name}=", env_example, re.MULTILINE), f"{name} missing from .env.example"


def test_the_worker_runs_one_openmp_thread_per_pool_process_unless_told_otherwise():
    compose = (ROOT / "docker-compose.yml").read_text()
    worker = compose[compose.index("\n  worker:"):compose.index("\n  beat:")]
    assert "OMP_NUM_THREADS: ${WORKER_OMP_NUM_THREADS:-1}" in worker
    assert re.search(r"^#? ?WORKER_OMP_NUM_THREADS=", (ROOT / ".env.example").read_text(), re.MULTILINE)
