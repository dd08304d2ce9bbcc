"""Backup and restore at production size on PostgreSQL, side by side with pg_dump/pg_restore.

For each ``--events`` size, on a throw-away database (dropped and re-created):

1. migrate, the demo world (``--demo small``: ``seed_demo`` with MODELGATE_DEMO_SMALL=1, models,
   artifacts and reports; ``--demo users``: teams and users only, quicker), ``--audit-events``
   events appended through the real audit writer, then N prediction events over the last 6 days
   generated inside PostgreSQL (as ``generate_telemetry`` makes them: diurnal traffic, log-normal
   latency, income/age/channel features, 0.4 % errors) with labels for 70 % of them, then
   ``VACUUM ANALYZE`` (so the first reader does not pay for hint bits);
2. ``--rounds`` interleaved rounds (A B B A …) of
   - ``pg_dump -Fc`` of the database against ``manage.py backup`` (archive with artifacts),
   - ``pg_restore --single-transaction --no-owner --no-privileges --exit-on-error`` of that dump
     into a new empty database against ``manage.py restore`` of the archive into another one
     (which also checks every member's hash, compares row counts, migrates, copies artifacts and
     verifies the audit chain and every blob);
   each command's wall time and peak RSS (``wait4``: the largest process of its tree, so for
   ``manage.py backup`` the larger of Python and its pg_dump).

Medians and ratios (ours / PostgreSQL's tool) per size. Goal (issue 22): within 1.5x the time,
peak RSS under 256 MB at 10 M events.

    .venv/bin/python bench/backup_bench.py --events 1000000 10000000          # the real run
    .venv/bin/python bench/backup_bench.py --events 20000 --demo users --rounds 1 --audit-events 500   # smoke
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def connect(url: str, dbname: str | None = None):
    import psycopg2

    parts = urlparse(url)
    conn = psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password,
                            dbname=dbname or parts.path.lstrip("/"))
    conn.autocommit = True
    return conn


def admin_sql(url: str, *statements: str, dbname: str = "postgres") -> None:
    conn = connect(url, dbname)
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def with_name(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def run_measured(args: list[str], env: dict) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in MiB of its largest process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args[:3])} failed ({proc.returncode}):\n{output.decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def generate(env: dict, events: int, audit_events: int, demo: str) -> None:
    """The world, in this process (Django set up on the bench database)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    demo_env = {**env, "MODELGATE_DEMO_SMALL": "1"}
    parts = [] if demo == "small" else ["--parts", ""]
    subprocess.run([sys.executable, "manage.py", "seed_demo", *parts], cwd=ROOT, env=demo_env, check=True,
                   stdout=subprocess.DEVNULL)
    import django

    django.setup()
    from django.db import connection, transaction

    from governance.models import Deployment, DeploymentSplit, Environment
    from modelgate.core import audit
    from modelgate.core.context import actor_context
    from modelgate.core.models import Team
    from registry.models import ModelVersion, RegisteredModel

    with actor_context(source="command"), transaction.atomic():
        for i in range(audit_events):
            audit.record(action="bench.change", object_type="bench.object", object_id=str(i), changes={"n": i})
    model = RegisteredModel.objects.create(name="bench-scorecard", team=Team.objects.get(slug="credit"), last_version=2)
    deployment = Deployment.objects.create(environment=Environment.objects.get(slug="prod"), registered_model=model)
    for number, weight in ((1, 90), (2, 10)):
        version = ModelVersion.objects.create(registered_model=model, version=number, status="ready")
        DeploymentSplit.objects.create(deployment=deployment, version=version, weight=weight)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO telemetry_predictionevent
                (deployment_id, event_id, timestamp, version, latency_ms, status, prediction, score, features, received_at)
            SELECT %(dep)s, 'demo-' || %(dep)s || '-' || to_char(ts, 'YYYYMMDDHH24MI') || '-' || g, ts,
                   CASE WHEN g %% 10 = 0 THEN 2 ELSE 1 END,
                   round((exp(3.7 + 0.35 * sqrt(-2 * ln(greatest(random(), 1e-12))) * cos(2 * pi() * random())))::numeric, 2),
                   CASE WHEN random() < 0.004 THEN 'error' ELSE 'ok' END,
                   to_jsonb((score >= 0.5)::int), round(score::numeric, 4),
                   jsonb_build_object('income', income, 'age', age, 'channel', channel), ts + interval '1 second'
            FROM (
                SELECT g, now() - interval '6 days' * (1 - g::float8 / %(n)s) AS ts, random() AS score,
                       round(exp(10.8 + 0.5 * sqrt(-2 * ln(greatest(random(), 1e-12))) * cos(2 * pi() * random()))) AS income,
                       18 + floor(random() * 63)::int AS age,
                       (ARRAY['web', 'web', 'web', 'web', 'web', 'web', 'branch', 'branch', 'branch', 'phone'])[1 + floor(random() * 10)::int] AS channel
                FROM generate_series(1, %(n)s) AS g
            ) AS rows
            """,
            {"dep": deployment.pk, "n": events},
        )
        cursor.execute(
            """
            INSERT INTO telemetry_groundtruth (deployment_id, event_id, label, received_at)
            SELECT deployment_id, event_id, CASE WHEN random() < 0.85 THEN prediction ELSE to_jsonb(1 - prediction::text::int) END,
                   timestamp + interval '1 hour'
            FROM telemetry_predictionevent WHERE deployment_id = %s AND timestamp < now() - interval '1 hour' AND random() < 0.7
            """,
            [deployment.pk],
        )
    connection.close()
    admin_sql(env["DATABASE_URL"], "VACUUM ANALYZE", dbname=urlparse(env["DATABASE_URL"]).path.lstrip("/"))


def describe(env: dict) -> dict:
    conn = connect(env["DATABASE_URL"])
    with conn.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database()), (SELECT count(*) FROM telemetry_predictionevent), "
                    "(SELECT count(*) FROM telemetry_groundtruth), (SELECT count(*) FROM core_auditevent)")
        size, events, labels, audit_events = cur.fetchone()
    conn.close()
    return {"size": size, "events": events, "labels": labels, "audit": audit_events}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mg_backup_bench")
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--audit-events", type=int, default=20_000)
    parser.add_argument("--demo", choices=["small", "users"], default="small")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", default="/tmp/backup-bench")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("The benchmark compares with pg_dump/pg_restore: it needs PostgreSQL.")
    name = urlparse(args.database_url).path.lstrip("/")
    workdir = Path(args.workdir)
    pg_dump, pg_restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    parts = urlparse(args.database_url)
    pg_env = {**os.environ, "PGHOST": parts.hostname or "", "PGPORT": str(parts.port or 5432), "PGUSER": parts.username or ""}
    if parts.password:
        pg_env["PGPASSWORD"] = parts.password
    results = []
    for events in args.events:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        env = {**os.environ, "DATABASE_URL": args.database_url, "MODELGATE_VAR_DIR": str(workdir),
               "ARTIFACT_STORE": str(workdir / "store"), "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"),
               "DJANGO_SETTINGS_MODULE": "modelgate.settings"}
        for var in ("REDIS_URL", "CELERY_BROKER_URL"):
            env.pop(var, None)
        admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        started = time.perf_counter()
        # Generation runs in a child so each size starts from a fresh Django.
        subprocess.run([sys.executable, __file__, "--generate-only", str(events), str(args.audit_events), args.demo],
                       cwd=ROOT, env=env, check=True)
        facts = describe(env)
        print(f"\n{events:,} events requested: {facts['events']:,} events, {facts['labels']:,} labels, "
              f"{facts['audit']:,} audit events, database {facts['size'] / 2**20:,.0f} MiB "
              f"(generated in {time.perf_counter() - started:,.0f} s)", flush=True)
        timings = {key: [] for key in ("pg_dump", "backup", "pg_restore", "restore")}
        dump, archive = workdir / "db.pgdump", workdir / "backup.tar"
        for r in range(args.rounds):
            order = ("pg", "ours") if r % 2 == 0 else ("ours", "pg")
            for who in order:
                target = f"{name}_r_{who}"
                admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)', f'CREATE DATABASE "{target}"')
                if who == "pg":
                    timings["pg_dump"].append(run_measured([pg_dump, "--format=custom", f"--file={dump}", name], pg_env))
                    timings["pg_restore"].append(run_measured(
                        [pg_restore, "--single-transaction", "--no-owner", "--no-privileges", "--exit-on-error",
                         f"--dbname={target}", str(dump)], pg_env))
                else:
                    timings["backup"].append(run_measured([sys.executable, "manage.py", "backup", str(archive)], env))
                    restore_env = {**env, "DATABASE_URL": with_name(args.database_url, target),
                                   "ARTIFACT_STORE": str(workdir / f"store-restored-{r}")}
                    timings["restore"].append(run_measured([sys.executable, "manage.py", "restore", str(archive)], restore_env))
                admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
            print(f"   round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f} s / {v[-1][1]:.0f} MiB" for k, v in timings.items()),
                  flush=True)
        med = {k: (statistics.median(t for t, _ in v), max(m for _, m in v)) for k, v in timings.items()}
        row = {"events": facts["events"], "db_mib": facts["size"] / 2**20, "dump_mib": dump.stat().st_size / 2**20,
               "archive_mib": archive.stat().st_size / 2**20, **med}
        results.append(row)
        print(f"   median: backup {med['backup'][0]:.1f} s vs pg_dump {med['pg_dump'][0]:.1f} s "
              f"({med['backup'][0] / med['pg_dump'][0]:.2f}x); restore {med['restore'][0]:.1f} s vs pg_restore "
              f"{med['pg_restore'][0]:.1f} s ({med['restore'][0] / med['pg_restore'][0]:.2f}x); peak RSS backup "
              f"{med['backup'][1]:.0f} MiB, restore {med['restore'][1]:.0f} MiB; dump {row['dump_mib']:.1f} MiB, "
              f"archive {row['archive_mib']:.1f} MiB", flush=True)
    print("\n| events | database | backup (pg_dump) | ratio | restore (pg_restore) | ratio | peak RSS backup / restore (pg_dump / pg_restore) | archive (dump) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        print(f"| {row['events']:,} | {row['db_mib']:,.0f} MiB | {row['backup'][0]:.1f} s ({row['pg_dump'][0]:.1f} s) | "
              f"{row['backup'][0] / row['pg_dump'][0]:.2f}x | {row['restore'][0]:.1f} s ({row['pg_restore'][0]:.1f} s) | "
              f"{row['restore'][0] / row['pg_restore'][0]:.2f}x | {row['backup'][1]:.0f} / {row['restore'][1]:.0f} MiB "
              f"({row['pg_dump'][1]:.0f} / {row['pg_restore'][1]:.0f} MiB) | {row['archive_mib']:.0f} MiB "
              f"({row['dump_mib']:.0f} MiB) |")
    admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--generate-only":
        generate(dict(os.environ), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        main()
