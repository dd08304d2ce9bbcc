"""Chunked explanations across Celery prefork worker processes (not a CI test).

For each model, in the same run:

1. one direct ``shap.TreeExplainer(model).shap_values(X)`` call in this process (the baseline);
2. the same rows explained as a real explainability report by a real ``celery worker
   --pool=prefork --concurrency=N`` over Redis and PostgreSQL, for N = 1, 2, 4: the plan
   writes each chunk's rows to the artifact store, chunk jobs load the model and their rows
   by SHA-256 and store their values, the merge completes the report.

Reported per N: the report's wall time (request → succeeded, everything included: plan,
chunks, merge with partial dependence and figures), the chunk phase's wall time (first
chunk started → last chunk finished), both against the direct call; speed-up and
efficiency (speed-up ÷ N) of the chunk phase against N = 1; per-chunk overhead (model
load, rows load, explainer build, values store) as a share of a chunk's time; the job
overhead (chunk wall time not spent in the task body: claim, queries, dispatch); and the
largest difference between the chunks' stored values and the direct call's.

Models: a HistGradientBoostingClassifier (100 iterations) explained on ``--hgb-rows`` rows,
and a full-depth RandomForestClassifier (``--rf-trees`` trees) trained on 20,000 rows and
explained on ``--rf-rows`` rows. Needs PostgreSQL and Redis (uses DATABASE_URL's database,
migrated here, and Redis DB ``--redis-db``); run it niced on a shared machine:

    nice -n 10 .venv/bin/python bench/chunked_reports_bench.py
    nice -n 10 .venv/bin/python bench/chunked_reports_bench.py --hgb-rows 20000 --rf-rows 2000 --processes 1 2   # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUEUE = f"bench-chunks-{uuid.uuid4().hex[:8]}"
FEATURES = [f"x{i}" for i in range(10)]


def load_snapshot() -> dict:
    out = {"loadavg_1m": round(os.getloadavg()[0], 2)}
    with contextlib.suppress(OSError, IndexError, ValueError):  # no PSI on this kernel: load average only
        out["cpu_pressure_some_avg60"] = float(Path("/proc/pressure/cpu").read_text().split()[2].split("=")[1])
    return out


def configure(args) -> None:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mg_h20")
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{args.redis_db}"
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = QUEUE
    os.environ.setdefault("SECRET_KEY", "bench-not-secret")
    os.environ.setdefault("ARTIFACT_STORE", str(ROOT / "var" / "bench-artifacts"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelgate.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_worker(processes: int, chunk_rows: int) -> subprocess.Popen:
    from modelgate.celery import app

    # As docker-compose.yml runs the worker: one OpenMP thread per pool process.
    env = dict(os.environ, REPORT_EXPLAIN_CHUNK_ROWS=str(chunk_rows), OMP_NUM_THREADS="1")
    log = open(ROOT / "var" / f"bench-worker-{processes}.log", "w")  # noqa: SIM115 (closed with the process)
    node = f"{QUEUE}-{processes}@localhost"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "modelgate", "worker", "--pool=prefork", f"--concurrency={processes}",
         "--without-gossip", "--without-mingle", "--loglevel=WARNING", "-Q", QUEUE, "-n", node],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited; see var/bench-worker-{processes}.log")
        with contextlib.suppress(Exception):
            if app.control.ping(destination=[node], timeout=1.0):
                return proc
        time.sleep(0.5)
    stop_worker(proc)
    raise SystemExit("worker did not answer a ping within 120 s")


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def make_version(name: str, model, frame):
    """A registered model version with its skops file and a Parquet evaluation dataset, as the services store them."""
    import io

    import skops.io
    from django.db import transaction

    from modelgate.core import roles
    from monitoring.services import reports as services
    from registry.choices import Framework
    from tests.factories import TeamFactory, UserFactory
    from tests.monitoring.conftest import add_artifact
    from tests.monitoring.conftest import make_version as make_model_version

    suffix = uuid.uuid4().hex[:6]
    team = TeamFactory(slug=f"bench-{suffix}", name=f"Bench {suffix}")
    user = UserFactory(username=f"bench-{suffix}", roles=[roles.DATA_SCIENTIST], teams=[team])
    version = make_model_version(team=team, name=f"{name}-{suffix}", framework=Framework.SKLEARN, input_schema=None, user=user)
    add_artifact(version, "model/model.skops", skops.io.dumps(model))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    with transaction.atomic():
        dataset = services.evaluationdataset_attach(
            user=user, version=version, name="eval", feature_columns=FEATURES, label_column="y",
            chunks=iter([buffer.getvalue()]), data_format="parquet",
        )
    return user, version, dataset


def run_report(user, version, dataset, *, rows: int, seed: int, timeout: float) -> dict:
    """Request a report (a new seed: new inputs, no reuse; all rows explained, so the values do not change) and wait."""
    from django.db import transaction

    from modelgate.core.models import Job
    from monitoring.models import Report
    from monitoring.services import reports as services

    t0 = time.perf_counter()
    with transaction.atomic():
        report, created = services.report_request(user=user, version=version, dataset=dataset, kind="explainability",
                                                  parameters={"sample_size": rows}, seed=seed)
    assert created
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.is_finished:
            break
        time.sleep(0.25)
    wall = time.perf_counter() - t0
    if report.status != "succeeded":
        raise SystemExit(f"report {report.pk} {report.status}: {report.error[:500]}")
    chunks = list(Job.objects.filter(parent_id=report.job_id).order_by("chunk_index"))
    return {"report": Report.objects.get(pk=report.pk), "chunks": chunks, "wall": wall}


def chunk_values(chunks):
    import numpy as np

    from monitoring.report_tasks import _read_blob
    from monitoring.reports.explain import values_from_bytes

    return np.concatenate([values_from_bytes(_read_blob(c.result["values_sha256"], "values")) for c in chunks])


def summarise(run: dict, direct_seconds: float, direct_values) -> dict:
    import numpy as np

    chunks, report = run["chunks"], run["report"]
    phase = (max(c.finished_at for c in chunks) - min(c.started_at for c in chunks)).total_seconds()
    per_chunk = []
    for c in chunks:
        s = dict(c.result["seconds"])
        cached = s.pop("cached", 0)
        body = sum(s.values())
        wall = (c.finished_at - c.started_at).total_seconds()
        load = s["load_model"] + s["load_rows"] + s["build_explainer"] + s["store_values"]
        per_chunk.append({"cached": cached, "wall": wall, "body": body, "load": load, "load_model": s["load_model"], "load_rows": s["load_rows"],
                          "build_explainer": s["build_explainer"], "store_values": s["store_values"], "shap": s["shap_values"]})

    def med(key):
        return round(statistics.median(p[key] for p in per_chunk), 4)

    difference = float(np.max(np.abs(chunk_values(chunks) - direct_values)))
    return {
        "report_wall_seconds": round(run["wall"], 2), "chunk_phase_seconds": round(phase, 2),
        "report_vs_direct": round(run["wall"] / direct_seconds, 3), "chunk_phase_vs_direct": round(phase / direct_seconds, 3),
        "chunks": len(chunks), "worker_processes_used": len({c.result["worker"] for c in chunks}),
        "median_chunk_wall": med("wall"), "median_chunk_shap": med("shap"), "median_chunk_load": med("load"),
        "median_load_model": med("load_model"), "median_load_rows": med("load_rows"), "median_build_explainer": med("build_explainer"),
        "median_store_values": med("store_values"),
        "model_loads": sum(1 - p["cached"] for p in per_chunk),
        "load_share_of_chunk": round(sum(p["load"] for p in per_chunk) / sum(p["wall"] for p in per_chunk), 4),
        "job_overhead_per_chunk": round(statistics.median(p["wall"] - p["body"] for p in per_chunk), 4),
        "plan_seconds": round(report.timings.get("load", 0) + report.timings.get("build_explainer", 0) + report.timings.get("store_chunk_rows", 0), 2),
        "merge_seconds": round(report.timings.get("merge_read_values", 0) + report.timings.get("merge_reload", 0) + report.timings.get("partial_dependence", 0), 2),
        "max_abs_difference_vs_direct": difference,
    }


def bench_model(name: str, model, frame, rows: int, chunk_rows: int, processes: list[int], timeout: float) -> dict:
    import numpy as np
    import shap

    X = frame[FEATURES]
    user, version, dataset = make_version(name, model, frame)
    t0 = time.perf_counter()
    direct = shap.TreeExplainer(model).shap_values(X)
    direct_seconds = time.perf_counter() - t0
    direct = np.asarray(direct)
    direct = direct[:, :, 1] if direct.ndim == 3 else direct  # (rows, features, classes) → the positive class
    out = {"rows": rows, "chunk_rows": chunk_rows, "direct_seconds": round(direct_seconds, 2), "runs": {}}
    print(json.dumps({name: {"direct_seconds": out["direct_seconds"], "load": load_snapshot()}}), flush=True)
    seed = 0
    for n in processes:
        worker = start_worker(n, chunk_rows)
        try:
            seed += 1
            # Warm-up, not timed: one chunk per pool process, so every child has imported shap and
            # skops (and read the model) before the timed report, as in a worker that has been up a while.
            run_report(user, version, dataset, rows=min(rows, n * chunk_rows), seed=10_000 + seed, timeout=timeout)
            seed += 1
            run = run_report(user, version, dataset, rows=rows, seed=seed, timeout=timeout)
        finally:
            stop_worker(worker)
        out["runs"][n] = {**summarise(run, direct_seconds, direct), "load": load_snapshot()}
        print(json.dumps({name: {n: out["runs"][n]}}), flush=True)
    one = out["runs"].get(1)
    for n, result in out["runs"].items():
        if one:
            speedup = one["chunk_phase_seconds"] / result["chunk_phase_seconds"]
            result["speedup_vs_1_process"] = round(speedup, 2)
            result["efficiency"] = round(speedup / n, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hgb-rows", type=int, default=100_000)
    parser.add_argument("--hgb-chunk-rows", type=int, default=5000)
    parser.add_argument("--rf-rows", type=int, default=20_000)
    parser.add_argument("--rf-train-rows", type=int, default=20_000)
    parser.add_argument("--rf-trees", type=int, default=100)
    parser.add_argument("--rf-chunk-rows", type=int, default=200)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--redis-db", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=4 * 3600)
    parser.add_argument("--skip-hgb", action="store_true")
    parser.add_argument("--skip-rf", action="store_true")
    args = parser.parse_args()
    configure(args)

    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    out = {"cpus": os.cpu_count(), "load_at_start": load_snapshot(), "processes": args.processes}

    def data(n, seed):
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame(rng.normal(size=(n, 10)), columns=FEATURES)
        frame["y"] = ((frame.x0 + frame.x1 * frame.x2 - 0.5 * frame.x3 + rng.normal(scale=0.5, size=n)) > 0).astype(int)
        return frame

    if not args.skip_hgb:
        frame = data(args.hgb_rows, 0)
        model = HistGradientBoostingClassifier(max_iter=100, random_state=0, early_stopping=False).fit(frame[FEATURES], frame["y"])
        out["hgb"] = bench_model("hgb", model, frame, args.hgb_rows, args.hgb_chunk_rows, args.processes, args.timeout)
    if not args.skip_rf:
        train = data(args.rf_train_rows, 1)
        model = RandomForestClassifier(n_estimators=args.rf_trees, random_state=0, n_jobs=1).fit(train[FEATURES], train["y"])
        out["rf"] = bench_model("rf", model, data(args.rf_rows, 2), args.rf_rows, args.rf_chunk_rows, args.processes, args.timeout)
    out["load_at_end"] = load_snapshot()
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
