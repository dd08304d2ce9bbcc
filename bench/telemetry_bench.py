"""Telemetry ingestion throughput and dashboard latency on PostgreSQL.

In one run, on a throw-away PostgreSQL database (dropped and re-created):

1. HTTP ingestion: a real gunicorn (``--workers`` sync workers) receives
   ``POST /api/v1/telemetry/events/`` batches of 10,000 events from
   ``--clients`` keep-alive connections (bodies built before the clock starts);
   every batch goes through authentication, validation, COPY into a staging
   table and ``INSERT … ON CONFLICT DO NOTHING``, and rollup marks.
2. Raw COPY: the same rows, ``COPY``-ed by one connection straight into a table
   built ``LIKE`` the events table (same indexes and unique key) — the floor
   any ingestion path pays. HTTP and COPY alternate in ``--rounds`` rounds; the
   ratio HTTP / COPY is reported per round and as the median.
3. Dashboard over ``--dashboard-events`` events (default 10,000,000, spread over
   30 days and two versions, generated inside PostgreSQL), rolled up by the real
   rollup service (timed too), then ``GET …/dashboard/?range=`` over HTTP,
   ``--repeat`` times per range: p50/p95 latency (target p95 < 300 ms).

    .venv/bin/python bench/telemetry_bench.py
    .venv/bin/python bench/telemetry_bench.py --http-events 200000 --dashboard-events 1000000   # quicker
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(url: str) -> None:
    import psycopg2

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password,
                             dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def setup_world():
    """Team, data scientist with a token, two deployments (one for ingestion, one for the dashboard)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from governance.models import Deployment, DeploymentSplit, Environment
    from modelgate.core import roles
    from modelgate.core.services import team_create, token_create
    from registry.models import ModelVersion, RegisteredModel

    team = team_create(name="Bench", slug="bench")
    group = team.group
    user = get_user_model().objects.create_user("bench", "bench@example.test", "x")
    user.groups.add(Group.objects.get(name=roles.DATA_SCIENTIST), group)
    _, token = token_create(user=user, name="bench")
    prod = Environment.objects.get(slug="prod")
    deployments = []
    for name in ("ingest-model", "dashboard-model"):
        model = RegisteredModel.objects.create(name=name, team=team, last_version=2)
        for perm in ("view_registeredmodel", "change_registeredmodel"):
            assign_perm(f"registry.{perm}", group, model)
        deployment = Deployment.objects.create(environment=prod, registered_model=model,
                                               created_at=datetime.now(UTC) - timedelta(days=31))
        for number, weight in ((1, 90), (2, 10)):
            version = ModelVersion.objects.create(registered_model=model, version=number, status="ready")
            DeploymentSplit.objects.create(deployment=deployment, version=version, weight=weight)
        deployments.append(deployment)
    return user, token, deployments


def make_batches(deployment_id: int, total: int, batch_size: int = 10_000) -> list[list[dict]]:
    import random

    rng = random.Random(1)
    now = datetime.now(UTC) - timedelta(minutes=2)
    batches = []
    for b in range(0, total, batch_size):
        batch = []
        for i in range(b, min(b + batch_size, total)):
            batch.append({
                "event_id": f"evt-{i:09d}",
                "timestamp": (now - timedelta(seconds=(total - i) * 0.01)).isoformat(),
                "version": 1 if i % 10 else 2,
                "latency_ms": round(rng.lognormvariate(3.6, 0.4), 2),
                "status": "error" if i % 250 == 0 else "ok",
                "prediction": i % 2,
                "score": round(rng.random(), 4),
                "features": {"income": 40_000 + i % 5000, "channel": "web"},
            })
        batches.append(batch)
    return batches


def start_gunicorn(env: dict, port: int, workers: int) -> subprocess.Popen:
    log = open(Path(env["MODELGATE_VAR_DIR"]) / "gunicorn.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "modelgate.wsgi:application", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--timeout", "300", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"gunicorn did not start; see {log.name}")


def post_all(port: int, token: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Send the bodies over ``clients`` keep-alive connections; return (wall seconds, per-request seconds)."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    durations: list[float] = []
    errors: list[str] = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            with lock:
                if not queue:
                    return
                _, body = queue.pop(0)
            started = time.perf_counter()
            conn.request("POST", "/api/v1/telemetry/events/", body=body,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            durations.append(time.perf_counter() - started)
            if response.status != 200:
                errors.append(payload[:300].decode())

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise SystemExit(f"ingestion failed: {errors[0]}")
    return wall, durations


def raw_copy(batches: list[list[dict]]) -> float:
    """COPY the same rows into a table built LIKE the events table (same indexes, same unique key);
    return seconds (the buffer is built before the clock starts)."""
    from django.db import connection

    from monitoring.telemetry.services import _copy_escape

    buffer = io.StringIO()
    received = datetime.now(UTC).isoformat()
    for batch in batches:
        for ev in batch:
            buffer.write(
                f"999999\t{_copy_escape(ev['event_id'])}\t{ev['timestamp']}\t{ev['version']}\t{ev['latency_ms']!r}\t"
                f"{ev['status']}\t{json.dumps(ev['prediction'])}\t{ev['score']!r}\t{_copy_escape(json.dumps(ev['features']))}\t"
                f"{received}\n"
            )
    columns = "deployment_id, event_id, timestamp, version, latency_ms, status, prediction, score, features, received_at"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_copy (LIKE telemetry_predictionevent INCLUDING ALL)")
        buffer.seek(0)
        started = time.perf_counter()
        cursor.copy_expert(f"COPY bench_copy ({columns}) FROM STDIN", buffer)
        return time.perf_counter() - started


def fill_dashboard_events(deployment_id: int, total: int, days: int = 30) -> float:
    """``total`` events over ``days`` generated inside PostgreSQL (log-normal latency, 0.4 % errors,
    2 % labelled), then every minute marked for rollup. Returns seconds."""
    from django.db import connection

    started = time.perf_counter()
    span = days * 86400
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO telemetry_predictionevent
                (deployment_id, event_id, timestamp, version, latency_ms, status, prediction, score, features, received_at)
            SELECT %s, 'd' || g, now() - make_interval(secs => %s * (1 - g::float8 / %s)) - interval '2 minutes',
                   CASE WHEN g %% 10 = 0 THEN 2 ELSE 1 END,
                   exp(3.6 + 0.4 * sqrt(-2 * ln(greatest(random(), 1e-12))) * cos(2 * pi() * random())),
                   CASE WHEN random() < 0.004 THEN 'error' ELSE 'ok' END,
                   to_jsonb(g %% 2), random(), NULL, now()
            FROM generate_series(1, %s) AS g
            """,
            [deployment_id, span, total, total],
        )
        cursor.execute(
            """
            INSERT INTO telemetry_groundtruth (deployment_id, event_id, label, received_at)
            SELECT deployment_id, event_id, to_jsonb(CASE WHEN random() < 0.85 THEN (prediction)::text::int
                                                          ELSE 1 - (prediction)::text::int END), now()
            FROM telemetry_predictionevent WHERE deployment_id = %s AND random() < 0.02
            """,
            [deployment_id],
        )
        cursor.execute(
            """
            INSERT INTO telemetry_rolluppending (deployment_id, minute, marked_at)
            SELECT DISTINCT deployment_id, date_trunc('minute', timestamp), now()
            FROM telemetry_predictionevent WHERE deployment_id = %s
            """,
            [deployment_id],
        )
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def time_gets(port: int, token: str, path: str, repeat: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for _ in range(repeat + 2):
        started = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status}")
        out.append((time.perf_counter() - started) * 1000)
    return out[2:]  # the first two warm the worker's caches and connection


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mg_telemetry_bench")
    parser.add_argument("--http-events", type=int, default=400_000)
    parser.add_argument("--dashboard-events", type=int, default=10_000_000, help="0 skips the dashboard part.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4, help="HTTP and COPY alternate, so a noisy neighbour hits both alike.")
    parser.add_argument("--workdir", default="/tmp/telemetry-bench")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("The benchmark needs PostgreSQL (the ingestion path uses COPY).")

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
    from monitoring.telemetry import services

    user, token, (ingest_dep, dash_dep) = setup_world()
    port = free_port()
    server = start_gunicorn(env, port, args.workers)
    try:
        print(f"machine: {os.cpu_count()} cores; gunicorn {args.workers} sync workers; {args.clients} client connections")
        batches = make_batches(ingest_dep.pk, args.http_events)
        bodies = [json.dumps({"deployment": ingest_dep.pk, "events": b}).encode() for b in batches]
        print(f"\n1–2. HTTP ingestion vs raw COPY of the same rows: {args.http_events:,} events in {len(bodies)} batches "
              f"of ≤10,000 ({sum(map(len, bodies)) / len(bodies) / 1e6:.1f} MB per body), {args.rounds} interleaved rounds")
        per_round = -(-len(bodies) // args.rounds)
        http_rates, copy_rates, ratios, all_durations = [], [], [], []
        http_total = copy_total = 0.0
        for r in range(args.rounds):
            chunk = slice(r * per_round, (r + 1) * per_round)
            n = sum(len(b) for b in batches[chunk])
            if not n:
                break
            wall, durations = post_all(port, token, bodies[chunk], args.clients)
            copy_seconds = raw_copy(batches[chunk])
            http_total += wall
            copy_total += copy_seconds
            all_durations += durations
            http_rates.append(n / wall)
            copy_rates.append(n / copy_seconds)
            ratios.append(http_rates[-1] / copy_rates[-1])
            print(f"   round {r + 1}: HTTP {http_rates[-1]:9,.0f} events/s   raw COPY {copy_rates[-1]:9,.0f} rows/s   "
                  f"ratio {ratios[-1]:.2f}")
        print(f"   overall: HTTP {args.http_events / http_total:,.0f} events/s, raw COPY {args.http_events / copy_total:,.0f} "
              f"rows/s; median per-round ratio HTTP / COPY {statistics.median(ratios):.2f}")
        print(f"   per batch of 10,000: median {statistics.median(all_durations) * 1000:.0f} ms, "
              f"max {max(all_durations) * 1000:.0f} ms")
        from monitoring.telemetry.models import PredictionEvent

        stored = PredictionEvent.objects.filter(deployment=ingest_dep).count()
        assert stored == args.http_events, stored
        resent_wall, _ = post_all(port, token, bodies[:5], args.clients)
        assert PredictionEvent.objects.filter(deployment=ingest_dep).count() == stored
        print(f"   re-sent 5 batches (all duplicates): {resent_wall:.2f} s, nothing stored twice")

        started = time.perf_counter()
        services.rollup_pending()
        print(f"   rollup of the ingested minutes: {time.perf_counter() - started:.2f} s")

        if not args.dashboard_events:
            return
        print(f"\n3. Dashboard over {args.dashboard_events:,} events (30 days, 2 versions, 2 % labelled)")
        fill = fill_dashboard_events(dash_dep.pk, args.dashboard_events)
        print(f"   generated inside PostgreSQL in {fill:.1f} s")
        started = time.perf_counter()
        marks = services.rollup_pending(limit=5000)
        rollup = time.perf_counter() - started
        print(f"   rollup service: {marks:,} minutes in {rollup:.1f} s ({args.dashboard_events / rollup:,.0f} events/s)")
        from monitoring.telemetry.models import HourBucket, MinuteBucket

        total = sum(HourBucket.objects.filter(deployment=dash_dep, version=0).values_list("count", flat=True))
        assert total == args.dashboard_events, total
        print(f"   buckets: {MinuteBucket.objects.filter(deployment=dash_dep).count():,} minute, "
              f"{HourBucket.objects.filter(deployment=dash_dep).count():,} hour (hour counts sum to {total:,})")
        services.sla_rule_create(user=user, deployment=dash_dep, name="p95", metric="latency_p95", threshold=120)
        services.sla_rule_create(user=user, deployment=dash_dep, name="errors", metric="error_rate", threshold=0.01)
        for range_key in ("1h", "6h", "24h", "7d", "30d"):
            times = time_gets(port, token, f"/api/v1/telemetry/deployments/{dash_dep.pk}/dashboard/?range={range_key}",
                              args.repeat)
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"   GET dashboard range={range_key:<4} p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms")
        times = time_gets(port, token, f"/api/v1/telemetry/deployments/{dash_dep.pk}/canary/?range=24h", args.repeat)
        print(f"   GET canary    range=24h  p50 {statistics.median(times):6.1f} ms   "
              f"p95 {statistics.quantiles(times, n=20)[-1]:6.1f} ms")
        times = time_gets(port, token, "/api/v1/telemetry/overview/", args.repeat)
        print(f"   GET overview             p50 {statistics.median(times):6.1f} ms   "
              f"p95 {statistics.quantiles(times, n=20)[-1]:6.1f} ms")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
