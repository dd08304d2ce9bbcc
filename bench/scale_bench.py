#!/usr/bin/env python3
"""A registry grown to MODELS models and MODELS x VERSIONS versions, Modelgate against
MLflow at the same size, same machine, same PostgreSQL (not run in CI).

    .venv/bin/python bench/scale_bench.py --models 100000 --versions 10 \\
        --mg-db mg_scale --mlflow-db mlflow_scale --mlflow-venv /tmp/mlflow-venv

Steps, each database from scratch:
  1. Modelgate: ``migrate``; ten teams, a data scientist in the first one with an API
     token and a portal session; then models, versions (each with an ``auc`` metric)
     and each model's team permissions generated in SQL (``generate_series``), as a
     bulk load or a restore would write them.
  2. MLflow: ``mlflow db upgrade``, then the same models and versions in its tables.
  3. Both servers started: ``gunicorn modelgate.wsgi -w 2`` (sync workers, no config)
     and ``mlflow server --workers 2``.
  4. Every query below REPEAT times in turn, one client: first on the freshly loaded
     tables (no statistics: this machine's PostgreSQL runs without autovacuum), then
     after ``ANALYZE`` of both databases, as an operator would after a bulk load.

Prints p50/p95 per query and server; ``--json FILE`` writes them too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"


def psql(db: str, sql: str) -> str:
    done = subprocess.run(["psql", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", db,
                           "-c", sql], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"psql on {db} failed: {done.stderr}")
    return done.stdout


def fresh_database(name: str) -> None:
    psql("postgres", f"DROP DATABASE IF EXISTS {name}")
    psql("postgres", f"CREATE DATABASE {name}")


def mg_env(db: str) -> dict:
    return {**os.environ, "DATABASE_URL": f"{PG}/{db}", "SECRET_KEY": "bench-not-secret", "DEBUG": "False",
            "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING", "SECURE_COOKIES": "false"}


SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from modelgate.core import roles
from modelgate.core.services import team_add_member, team_create
user = get_user_model().objects.create(username="bench")
user.groups.add(Group.objects.get(name=roles.DATA_SCIENTIST))
teams = [team_create(name=f"team {i}", slug=f"team-{i}") for i in range(10)]
team_add_member(team=teams[0], user=user)
"""
CREDENTIALS = """
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from modelgate.core.services import token_create
user = get_user_model().objects.get(username="bench")
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print(token_create(user=user, name="bench")[1], session.session_key, settings.SESSION_COOKIE_NAME)
"""


def credentials(db: str) -> tuple[str, str]:
    """A new API token and portal session cookie for the bench user."""
    out = subprocess.run([sys.executable, "manage.py", "shell", "-v0", "-c", CREDENTIALS], cwd=ROOT, env=mg_env(db),
                         check=True, capture_output=True, text=True).stdout.split()
    token, session, cookie = out[-3:]
    return token, f"{cookie}={session}"


def load_modelgate(db: str, models: int, versions: int) -> None:
    env = mg_env(db)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "shell", "-v0", "-c", SETUP], cwd=ROOT, env=env, check=True)
    perms = psql(db, "SELECT string_agg(p.id::text, ',') FROM auth_permission p JOIN django_content_type c ON "
                     "c.id = p.content_type_id WHERE c.app_label = 'registry' AND p.codename IN "
                     "('view_registeredmodel', 'change_registeredmodel', 'delete_registeredmodel')").strip()
    psql(db, f"""
        INSERT INTO registry_registeredmodel (name, description, tags, last_version, created_at, updated_at, team_id)
        SELECT 'model-' || lpad(i::text, 6, '0'), '', '{{}}', {versions},
               now() - (i || ' minutes')::interval, now() - (i || ' minutes')::interval,
               (SELECT id FROM core_team WHERE slug = 'team-' || (i % 10))
        FROM generate_series(1, {models}) AS i;
        INSERT INTO registry_registeredmodelgroupobjectpermission (permission_id, group_id, content_object_id)
        SELECT p, t.group_id, m.id FROM registry_registeredmodel m JOIN core_team t ON t.id = m.team_id,
               unnest('{{{perms}}}'::integer[]) AS p;
        INSERT INTO registry_modelversion (version, status, status_message, framework, metrics, params, schema_format,
            environment, entry_point, serving, source_repository, source_commit, source_uri, run_id, tags, description,
            created_at, updated_at, registered_model_id)
        SELECT v, 'ready', '', 'sklearn', jsonb_build_object('auc', round((0.5 + random() / 2)::numeric, 4)), '{{}}',
               'json_schema', '{{}}', '', '{{}}', '', '', 's3://bucket/' || m.name || '/' || v, '', '{{}}', '',
               m.created_at + (v || ' seconds')::interval, m.created_at + (v || ' seconds')::interval, m.id
        FROM registry_registeredmodel m, generate_series(1, {versions}) AS v;
    """)


def load_mlflow(db: str, venv: Path, models: int, versions: int) -> None:
    subprocess.run([str(venv / "bin" / "mlflow"), "db", "upgrade", f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"],
                   check=True, capture_output=True)
    psql(db, f"""
        INSERT INTO registered_models (name, creation_time, last_updated_time, description)
        SELECT 'model-' || lpad(i::text, 6, '0'), t, t, ''
        FROM generate_series(1, {models}) AS i, LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - i::bigint * 60000 AS t) x;
        INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage,
            source, run_id, status, status_message, run_link, storage_location)
        SELECT m.name, v, m.creation_time + v * 1000, m.creation_time + v * 1000, '', '', 'None',
               's3://bucket/' || m.name || '/' || v, '', 'READY', '', '', 's3://bucket/' || m.name || '/' || v
        FROM registered_models m, generate_series(1, {versions}) AS v;
    """)


def start(cmd: list[str], cwd: Path, env: dict, url: str, headers: dict, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(480):
        try:
            get(url + "/api/2.0/mlflow/registered-models/search?max_results=1", headers)
            return proc
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server did not start: {' '.join(cmd)} (see {log})")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group: its workers too
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def get(url: str, headers: dict) -> float:
    request = urllib.request.Request(url, headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        response.read()
        if response.status != 200:
            raise OSError(f"{url}: {response.status}")
    return time.perf_counter() - started


def queries(models: int, versions: int) -> list[tuple[str, str, bool]]:
    """(label, path, Modelgate only?) — a different model each repetition would defeat caching
    no more than the same one: PostgreSQL's buffers hold these pages either way."""
    some = f"model-{models // 2:06d}"
    prefix = some[:-2]  # LIKE 'model-0500%': 100 models
    return [
        ("MLflow search models LIKE prefix", "/api/2.0/mlflow/registered-models/search?" + urlencode(
            {"filter": f"name LIKE '{prefix}%'", "max_results": 25}), False),
        ("MLflow search models (first page)", "/api/2.0/mlflow/registered-models/search?max_results=25", False),
        ("MLflow search versions name=", "/api/2.0/mlflow/model-versions/search?" + urlencode(
            {"filter": f"name='{some}'"}), False),
        ("MLflow get version", f"/api/2.0/mlflow/model-versions/get?name={some}&version={versions // 2 or 1}", False),
        ("REST versions ?metric=auc>=0.99", "/api/v1/versions/?" + urlencode({"metric": "auc>=0.99", "limit": 25}), True),
        ("portal catalog /registry/models/", "/registry/models/", True),
    ]


def measure(servers: dict, repeat: int, models: int, versions: int) -> dict:
    out = {}
    for label, path, mg_only in queries(models, versions):
        for name, (url, headers) in servers.items():
            if mg_only and name != "modelgate":
                continue
            times, failed = [], []
            for attempt in range(repeat + 1):
                started = time.perf_counter()
                try:
                    took = get(url + path, headers)
                except OSError as exc:  # e.g. a worker killed mid-request: counted, not fatal
                    failed.append(f"{time.perf_counter() - started:.1f} s: {exc}")
                    time.sleep(5)  # let the server replace the worker
                    continue
                if attempt:  # the first one warms the worker on this path
                    times.append(took)
            times.sort()
            row = {"p50_ms": round(statistics.median(times) * 1000, 1) if times else None,
                   "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))] * 1000, 1) if times else None,
                   "ok": len(times), "failed": failed}
            out[f"{label} | {name}"] = row
            print(f"  {label:<38} {name:<10} p50 {row['p50_ms']} ms   p95 {row['p95_ms']} ms   ok {len(times)}"
                  + (f"   failed {len(failed)}: {failed[0]}" if failed else ""), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=10, help="versions per model")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--repeat-before", type=int, default=5, help="repetitions before ANALYZE (MLflow's take seconds each)")
    parser.add_argument("--mg-db", default="mg_scale")
    parser.add_argument("--mlflow-db", default="mlflow_scale")
    parser.add_argument("--mg-port", type=int, default=8000)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--mlflow-venv", type=Path, default=Path("/tmp/mlflow-venv"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/scale-bench"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reuse", action="store_true", help="keep the databases a previous run loaded (not analysed)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    if not args.reuse:
        for db in (args.mg_db, args.mlflow_db):
            fresh_database(db)
        started = time.monotonic()
        load_modelgate(args.mg_db, args.models, args.versions)
        print(f"Modelgate loaded in {time.monotonic() - started:.0f} s", flush=True)
        started = time.monotonic()
        load_mlflow(args.mlflow_db, args.mlflow_venv, args.models, args.versions)
        print(f"MLflow loaded in {time.monotonic() - started:.0f} s", flush=True)
    token, cookie = credentials(args.mg_db)

    mg_url, mlflow_url = f"http://127.0.0.1:{args.mg_port}", f"http://127.0.0.1:{args.mlflow_port}"
    mg_headers = {"Authorization": f"Bearer {token}", "Cookie": cookie}
    venv_bin = Path(sys.executable).parent
    mg = start([str(venv_bin / "gunicorn"), "modelgate.wsgi", "-w", "2", "--bind", f"127.0.0.1:{args.mg_port}"],
               ROOT, mg_env(args.mg_db), mg_url, mg_headers, args.out / "mg.log")
    mlflow = start([str(args.mlflow_venv / "bin" / "mlflow"), "server", "--backend-store-uri",
                    f"postgresql+psycopg2://postgres@127.0.0.1:5432/{args.mlflow_db}", "--workers", "2",
                    "--host", "127.0.0.1", "--port", str(args.mlflow_port)],
                   ROOT, dict(os.environ), mlflow_url, {}, args.out / "mlflow.log")
    servers = {"modelgate": (mg_url, mg_headers), "mlflow": (mlflow_url, {})}
    results = {"models": args.models, "versions": args.models * args.versions, "load": os.getloadavg()}
    try:
        print(f"before ANALYZE (load {os.getloadavg()[0]:.1f})", flush=True)
        results["before_analyze"] = measure(servers, args.repeat_before, args.models, args.versions)
        for db in (args.mg_db, args.mlflow_db):
            psql(db, "ANALYZE")
        print(f"after ANALYZE (load {os.getloadavg()[0]:.1f})", flush=True)
        results["after_analyze"] = measure(servers, args.repeat, args.models, args.versions)
    finally:
        stop(mg)
        stop(mlflow)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
