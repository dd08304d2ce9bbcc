#!/usr/bin/env python3
"""Load held by the API: requests/s and p95 at N concurrent clients, with zero errors (not run in CI).

    .venv/bin/python bench/load_bench.py --database-url postgres://postgres@127.0.0.1:5432/mg_load_bench

Recreates the named PostgreSQL database, migrates it, creates a team, a data scientist with a
bearer token and one model per client, starts a real gunicorn (``--workers`` sync workers), then
runs ``--clients`` concurrent clients for ``--seconds`` over keep-alive connections. Each client
loops over a CI-like mix: list models, get its model, list its versions, get a version, MLflow
get-latest-versions, ``/api/v1/me/`` and — every ``--write-every``-th request — registers a new
version of its model. Any status other than 200/201 is an error; the run reports requests/s,
p50/p95/p99 and the error count, and checks afterwards that version numbers are gapless and the
audit chain verifies. Standard library only (plus Django for set-up and checks).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from telemetry_bench import free_port, recreate_database, start_gunicorn  # noqa: E402


def setup_world(clients: int):
    from modelgate.core import roles
    from modelgate.core.services import token_create
    from registry import services
    from tests.factories import TeamFactory, UserFactory

    team = TeamFactory(slug="load", name="Load")
    user = UserFactory(username="ci-load", roles=[roles.DATA_SCIENTIST], teams=[team])
    _, raw = token_create(user=user, name="load-bench")
    names = []
    for i in range(clients):
        model = services.registered_model_create(user=user, name=f"load-model-{i:02d}", team=team)
        version, _ = services.modelversion_register(user=user, registered_model=model, framework="sklearn", metrics={"auc": 0.8})
        services.modelversion_finalize(user=user, version=version)
        names.append(model.name)
    return raw, names


def client_loop(port, token, model, seconds, write_every, out, errors, lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    reads = [
        ("GET", "/api/v1/models/?limit=25", None),
        ("GET", f"/api/v1/models/{model}/", None),
        ("GET", f"/api/v1/models/{model}/versions/?limit=25", None),
        ("GET", f"/api/v1/models/{model}/versions/1/", None),
        ("GET", f"/api/2.0/mlflow/registered-models/get-latest-versions?name={model}", None),
        ("GET", "/api/v1/me/", None),
    ]
    write = ("POST", f"/api/v1/models/{model}/versions/", json.dumps({"framework": "sklearn", "metrics": {"auc": 0.81}}))
    latencies, failures, n = [], [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        method, path, body = write if write_every and n % write_every == write_every - 1 else reads[n % len(reads)]
        n += 1
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            status = f"{exc.__class__.__name__}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append(time.perf_counter() - started)
        if status not in (200, 201):
            failures.append(f"{method} {path} → {status}")
    conn.close()
    with lock:
        out.extend(latencies)
        errors.extend(failures)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mg_load_bench")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--write-every", type=int, default=10, help="one version registration per N requests (0: reads only)")
    parser.add_argument("--workdir", default="/tmp/load-bench")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("The benchmark runs on PostgreSQL.")
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": args.database_url, "MODELGATE_VAR_DIR": args.workdir,
           "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"), "DJANGO_SETTINGS_MODULE": "modelgate.settings"}
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "MODELGATE_VAR_DIR", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")})
    os.environ.pop("REDIS_URL", None)
    recreate_database(args.database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    token, models = setup_world(args.clients)
    port = free_port()
    server = start_gunicorn(env, port, args.workers)
    try:
        latencies, errors, lock = [], [], threading.Lock()
        threads = [threading.Thread(target=client_loop, args=(port, token, models[i], args.seconds, args.write_every,
                                                              latencies, errors, lock)) for i in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)

    from django.db.models import Count, Max

    from modelgate.core.audit import verify_chain
    from registry.models import ModelVersion

    per_model = ModelVersion.objects.values("registered_model").annotate(n=Count("id"), top=Max("version"))
    gapless = all(row["n"] == row["top"] for row in per_model)
    chain = verify_chain()
    q = statistics.quantiles(latencies, n=100)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f}; gunicorn {args.workers} sync workers; "
          f"{args.clients} clients for {args.seconds:.0f} s, one write per {args.write_every} requests")
    print(f"requests: {len(latencies)} in {wall:.1f} s = {len(latencies) / wall:.1f} req/s; "
          f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms")
    print(f"errors: {len(errors)}" + (f" (first: {errors[:3]})" if errors else ""))
    print(f"versions gapless per model: {gapless}; audit chain: ok={chain.ok} checked={chain.checked}")
    return 0 if not errors and gapless and chain.ok else 1


if __name__ == "__main__":
    sys.exit(main())
