"""Job handlers computing the reports in the worker.

Thin: re-fetch the report, mark it running, read inputs from the artifact
store, call the pure computation modules (``monitoring.reports.*``, imported
here lazily so nothing ML-related loads at import), store the immutable
result. Every exit path ends the report: a handled error fails it with a clear
message; a killed worker fails its job (redelivery handling or the sweeper) and
``reconcile_reports`` carries that to the report.

An explanation runs in three steps (``modelgate.core.jobs.FanOut``): the plan
(the report's job) picks the rows and writes each chunk's rows, and the
explainer's background, to the artifact store; one chunk job per
``REPORT_EXPLAIN_CHUNK_ROWS`` rows loads the model and its rows by SHA-256,
explains them and stores the values there; the merge (the report's job again,
once the last chunk is done) reads the values in row order and completes the
report. Nothing but ids and hashes goes through the broker.
"""

from __future__ import annotations

import os
import time
import traceback
from contextlib import contextmanager
from importlib import metadata

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from modelgate.core.jobs import MERGE_SUFFIX, FanOut, TransientJobError, job_handler
from monitoring.choices import ReportKind
from monitoring.models import EvaluationDataset, Report
from monitoring.services import reports as services
from registry import storage
from registry.models import ArtifactBlob

LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "shap", "lightgbm", "xgboost", "skops", "pyarrow")


def library_versions() -> dict:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name if name != "xgboost" else "xgboost-cpu")
        except metadata.PackageNotFoundError:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = None
    return out


def _read_dataset(artifact, data_format: str, name: str):
    from monitoring.reports.loading import read_table

    with storage.open_blob(artifact.blob) as handle:
        return read_table(handle, data_format, name=name)


def _load_model(version, dataset: EvaluationDataset):
    from monitoring.reports.loading import ReportInputError

    artifact = services.model_artifact(version)
    if artifact is None:
        raise ReportInputError("This version has no model artifact.")
    return _load_model_blob(artifact.blob, path=artifact.path, framework=version.framework, dataset=dataset)


def _load_model_blob(blob: ArtifactBlob, *, path: str, framework: str, dataset: EvaluationDataset):
    from monitoring.reports.loading import ReportInputError, load_model, read_verified

    try:
        with storage.open_blob(blob) as handle:
            data = read_verified(handle, blob.sha256)
    except FileNotFoundError as exc:
        raise ReportInputError(f"{path}: the stored file is missing.") from exc
    return load_model(
        data, path=path, framework=framework, task=dataset.task,
        allow_pickle=settings.MODELGATE_ALLOW_PICKLE, positive_label=dataset.positive_label,
    )


def _prepare(report: Report):
    """Read and check the dataset; load the model when the report needs it."""
    from monitoring.reports.loading import ReportInputError, binary_outcome, check_columns

    dataset, version = report.dataset, report.version
    df = _read_dataset(dataset.artifact, dataset.data_format, f"dataset {dataset.name}")
    check_columns(df, roles=dataset.column_roles, schema_format=version.schema_format, input_schema=version.input_schema, name=f"dataset {dataset.name}")
    model = None
    if report.kind == ReportKind.EXPLAINABILITY or (report.kind == ReportKind.FAIRNESS and not dataset.prediction_column):
        model = _load_model(version, dataset)
        if not model.feature_names:
            model.feature_names = list(dataset.feature_columns)
        missing = [f for f in model.feature_names if f not in df.columns]
        if missing:
            raise ReportInputError(f"dataset {dataset.name}: the model expects columns the file lacks: {', '.join(missing)}.")
    label = binary_outcome(df[dataset.label_column], dataset.positive_label) if dataset.task == "classification" else None
    return dataset, df, model, label


def _run(report_id: int, report_progress, compute) -> dict:
    report = _started_report(report_id)
    if not isinstance(report, Report):
        return report
    versions = library_versions()
    started = time.perf_counter()
    with _failing(report_id, versions):
        out = compute(report, report_progress)
    out["timings"]["total"] = time.perf_counter() - started
    services.report_complete(report_id=report_id, library_versions=versions, **out)
    report_progress(100)
    return {"report_id": report_id, "status": "succeeded", "verdict": out.get("verdict", "")}


def _started_report(report_id: int) -> Report | dict:
    """The report, marked running; or why there is nothing to do."""
    report = Report.objects.select_related("dataset__artifact__blob", "dataset__reference_artifact__blob", "version__registered_model").get(pk=report_id)
    if report.is_finished:
        return {"report_id": report_id, "status": report.status, "note": "already ended"}
    if not services.report_start(report_id=report_id):
        return {"report_id": report_id, "status": "not started", "note": "the report ended meanwhile"}
    return report


@contextmanager
def _failing(report_id: int, versions: dict | None = None):
    """Fail the report with a clear message if the block raises (then fail the job too)."""
    try:
        yield
    except TransientJobError:
        raise  # the job runner retries it; the report keeps running
    except Exception as exc:
        message = _failure_message(exc)
        services.report_fail(report_id=report_id, error=message, library_versions=versions or library_versions())
        raise RuntimeError(message) from exc


def _failure_message(exc: Exception) -> str:
    from monitoring.reports.loading import ReportInputError

    if isinstance(exc, ReportInputError | ValueError | KeyError):
        return str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {exc}\n\n{traceback.format_exc(limit=5)}"


def _store_bytes(data: bytes) -> str:
    return storage.store_stream(iter([data])).sha256


def _read_blob(sha256: str, what: str) -> bytes:
    """Bytes of a blob by hash, checked; the store failing to answer is transient (retried)."""
    from monitoring.reports.loading import ReportInputError, read_verified

    blob = ArtifactBlob.objects.filter(sha256=sha256).first()
    if blob is None:
        raise ReportInputError(f"The {what} ({sha256[:12]}…) is no longer in the artifact store.")
    try:
        with storage.open_blob(blob) as handle:
            return read_verified(handle, sha256)
    except OSError as exc:
        raise TransientJobError(f"The artifact store could not give the {what} ({sha256[:12]}…): {exc}") from exc


def _plan_explainability(report: Report, report_progress) -> FanOut:
    """Step 1: pick the explained rows and the explainer, store each chunk's rows, fan out."""
    from monitoring.reports.explain import chunk_bounds, frame_to_bytes, plan_explanation

    t0 = time.perf_counter()
    dataset, df, model, label = _prepare(report)
    load = time.perf_counter() - t0
    plan = plan_explanation(model, df, label=label, params=report.parameters, seed=report.seed)
    report_progress(5)
    t0 = time.perf_counter()
    artifact = services.model_artifact(report.version)
    common = {
        "report_id": report.pk, "model_sha256": artifact.blob_id, "model_path": artifact.path,
        "background_sha256": _store_bytes(frame_to_bytes(plan.info.background)) if plan.info.background is not None else None,
    }
    chunk_rows = settings.REPORT_EXPLAIN_CHUNK_ROWS
    chunks = [
        {**common, "start": start, "rows": stop - start, "rows_sha256": _store_bytes(frame_to_bytes(plan.X_sample.iloc[start:stop]))}
        for start, stop in chunk_bounds(len(plan.X_sample), chunk_rows)
    ]
    state = {"report_id": report.pk, "chunk_rows": chunk_rows, "load": load, "build_explainer": plan.build_seconds,
             "store_chunk_rows": time.perf_counter() - t0}
    return FanOut(f"monitoring.{ReportKind.EXPLAINABILITY}.chunk", chunks, state)


# The last explainer this process built for a chunk, by everything that determines it. The
# next chunk of the same report taken by this process skips re-reading the model (the bytes are
# immutable and were checked against their hash) and re-building the explainer: with many
# chunks per report, model reads from the artifact store drop from one per chunk to about one
# per worker process. One entry, so a worker holds at most one extra model between reports.
_EXPLAINER_CACHE: dict = {}


def _chunk_explainer(p: dict, report: Report, columns: list[str], seconds: dict):
    from monitoring.reports.explain import DEFAULTS, build_explainer, frame_from_bytes
    from monitoring.reports.loading import load_model

    params = {**DEFAULTS, **report.parameters}
    key = (p["model_sha256"], p["model_path"], report.version.framework, report.dataset.task, str(report.dataset.positive_label),
           p["background_sha256"], params["feature_perturbation"], params["background_size"], report.seed, tuple(columns))
    t0 = time.perf_counter()
    if key in _EXPLAINER_CACHE:
        model, info = _EXPLAINER_CACHE[key]
        seconds.update(load_model=0.0, build_explainer=0.0, cached=1)
        return model, info, params
    model = load_model(_read_blob(p["model_sha256"], "model file"), path=p["model_path"], framework=report.version.framework,
                       task=report.dataset.task, allow_pickle=settings.MODELGATE_ALLOW_PICKLE, positive_label=report.dataset.positive_label)
    if not model.feature_names:
        model.feature_names = list(columns)
    background = frame_from_bytes(_read_blob(p["background_sha256"], "explainer background")) if p["background_sha256"] else None
    seconds["load_model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    info = build_explainer(model, None, params=params, seed=report.seed, background=background)
    seconds.update(build_explainer=time.perf_counter() - t0, cached=0)
    _EXPLAINER_CACHE.clear()
    _EXPLAINER_CACHE[key] = (model, info)
    return model, info, params


def _explain_chunk(job) -> dict:
    """Step 2 (any worker): load the model and this chunk's rows by hash, explain them, store the values."""
    from monitoring.reports.explain import explain_chunk, frame_from_bytes, values_to_bytes

    p = job.params
    report = Report.objects.select_related("dataset", "version").get(pk=p["report_id"])
    seconds = {}
    t0 = time.perf_counter()
    rows = frame_from_bytes(_read_blob(p["rows_sha256"], "chunk's rows"))
    seconds["load_rows"] = time.perf_counter() - t0
    model, info, params = _chunk_explainer(p, report, list(rows.columns), seconds)
    t0 = time.perf_counter()
    chunk = explain_chunk(info, rows[model.feature_names], model.positive_index, params["max_evals"])
    seconds["shap_values"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    values_sha256 = _store_bytes(values_to_bytes(chunk.values))
    seconds["store_values"] = time.perf_counter() - t0
    return {"values_sha256": values_sha256, "rows": len(rows), "base_value": chunk.base_value, "additivity_gap": chunk.additivity_gap,
            "worker": job.worker or f"in-process:{os.getpid()}", "seconds": seconds}


def _merge_explainability(job, report: Report) -> dict:
    """Step 3: the chunks' values in row order, then the rest of the report (importance, PDP, waterfalls, figures)."""
    import numpy as np

    from monitoring.presentation import name_explained_output
    from monitoring.reports.explain import complete_explanation, plan_explanation, values_from_bytes

    state = (job.result or {}).get("plan", {})
    chunks = list(job.chunks.order_by("chunk_index").values_list("result", "started_at", "finished_at"))
    t0 = time.perf_counter()
    values = np.concatenate([values_from_bytes(_read_blob(result["values_sha256"], "chunk's SHAP values")) for result, _, _ in chunks])
    read_values = time.perf_counter() - t0
    gaps = [result["additivity_gap"] for result, _, _ in chunks if result["additivity_gap"] is not None]
    t0 = time.perf_counter()
    dataset, df, model, label = _prepare(report)  # partial dependence and waterfalls need the model and every row
    plan = plan_explanation(model, df, label=label, params=report.parameters, seed=report.seed)
    reload = time.perf_counter() - t0
    workers = {result["worker"] for result, _, _ in chunks}
    how = {"chunks": len(chunks), "chunk_rows": state.get("chunk_rows"), "worker_processes": len(workers)}
    out = complete_explanation(model, plan, values, base=chunks[-1][0]["base_value"], gap=max(gaps) if gaps else None,
                               how=how, seed=report.seed, chunk_rows=state.get("chunk_rows") or settings.REPORT_EXPLAIN_CHUNK_ROWS)
    per_chunk = [result["seconds"] for result, _, _ in chunks]
    out["timings"].update({
        "load": state.get("load", 0.0), "build_explainer": state.get("build_explainer", 0.0), "store_chunk_rows": state.get("store_chunk_rows", 0.0),
        # Wall time from the first chunk's start to the last one's end, across all workers.
        "shap_values": (max(f for _, _, f in chunks) - min(s for _, s, _ in chunks)).total_seconds(),
        **{f"chunks_{step}": sum(s[step] for s in per_chunk) for step in ("load_model", "load_rows", "build_explainer", "shap_values", "store_values")},
        "chunks_model_loads": sum(1 - s.get("cached", 0) for s in per_chunk),
        "merge_read_values": read_values, "merge_reload": reload,
    })
    output = _explained_output(report.version, dataset, model)
    out["results"]["explained_output"] = output
    name_explained_output(out["figures"], output, output_space=out["results"]["explainer"]["output_space"], task=dataset.task)
    return {"results": out["results"], "figures": out["figures"], "timings": out["timings"], "sample_sizes": out["sample_sizes"], "verdict": ""}


def _explained_output(version, dataset: EvaluationDataset, model) -> dict:
    from monitoring.presentation import explained_output

    return explained_output(task=dataset.task, label_column=dataset.label_column, positive_class=model.positive_class,
                            output_schema=version.output_schema, schema_format=version.schema_format)


def _compute_fairness(report: Report, report_progress) -> dict:
    from monitoring.presentation import favourable_outcome
    from monitoring.reports.fairness import fairness_figures, fairness_report
    from monitoring.reports.loading import binary_outcome

    timings = {}
    t0 = time.perf_counter()
    dataset, df, model, label = _prepare(report)
    reference = None
    if dataset.reference_artifact_id:
        reference = _read_dataset(dataset.reference_artifact, dataset.data_format, f"reference of {dataset.name}")
        missing = [c for c in dataset.sensitive_columns if c not in reference.columns]
        reference = None if missing else reference[dataset.sensitive_columns]
    timings["load"] = time.perf_counter() - t0
    report_progress(30)
    t0 = time.perf_counter()
    threshold = float(report.parameters.get("threshold", 0.5))
    if dataset.task == "classification":
        y_true = label
        y_pred = binary_outcome(df[dataset.prediction_column], dataset.positive_label) if dataset.prediction_column else model.predict_label(df, threshold)
    else:
        y_true = df[dataset.label_column].to_numpy(dtype=float)
        y_pred = df[dataset.prediction_column].to_numpy(dtype=float) if dataset.prediction_column else model.predict_score(df)
    timings["predict"] = time.perf_counter() - t0
    report_progress(60)
    t0 = time.perf_counter()
    results = fairness_report(df[dataset.sensitive_columns], y_true=y_true, y_pred=y_pred, task=dataset.task, params=report.parameters, reference_sensitive=reference)
    results["prediction_source"] = f"column {dataset.prediction_column}" if dataset.prediction_column else f"model (score ≥ {threshold})"
    if dataset.task == "classification":
        results["favourable_outcome"] = favourable_outcome(
            label_column=dataset.label_column, positive_label=dataset.positive_label, meaning=dataset.positive_label_meaning,
        )
    timings["metrics"] = time.perf_counter() - t0
    return {"results": results, "figures": fairness_figures(results), "timings": timings, "sample_sizes": {"dataset_rows": len(df)}, "verdict": results["verdict"]}


def _compute_drift(report: Report, report_progress) -> dict:
    from monitoring.reports.drift import drift_figures, drift_report

    timings = {}
    t0 = time.perf_counter()
    dataset, df, _, _ = _prepare(report)
    reference = _read_dataset(dataset.reference_artifact, dataset.data_format, f"reference of {dataset.name}")
    timings["load"] = time.perf_counter() - t0
    report_progress(40)
    t0 = time.perf_counter()
    results = drift_report(reference, df, features=list(dataset.feature_columns), params=report.parameters)
    timings["tests"] = time.perf_counter() - t0
    return {"results": results, "figures": drift_figures(results, reference, df), "timings": timings,
            "sample_sizes": {"reference_rows": len(reference), "current_rows": len(df)}, "verdict": results["verdict"]}


@job_handler("monitoring.explainability")
def run_explainability(job, report_progress):
    report = _started_report(job.params["report_id"])
    if not isinstance(report, Report):
        return report
    with _failing(report.pk):
        return _plan_explainability(report, report_progress)


@job_handler("monitoring.explainability.chunk")
def run_explainability_chunk(job, report_progress):
    with _failing(job.params["report_id"]):
        return _explain_chunk(job)


@job_handler(f"monitoring.explainability{MERGE_SUFFIX}")
def merge_explainability(job, report_progress):
    report = Report.objects.select_related("dataset__artifact__blob", "dataset__reference_artifact__blob", "version__registered_model").get(pk=job.params["report_id"])
    if report.is_finished:
        return {"report_id": report.pk, "status": report.status, "note": "already ended"}
    versions = library_versions()
    with _failing(report.pk, versions):
        out = _merge_explainability(job, report)
    out["timings"]["total"] = (timezone.now() - report.started_at).total_seconds() if report.started_at else 0.0
    services.report_complete(report_id=report.pk, library_versions=versions, **out)
    return {"report_id": report.pk, "status": "succeeded", "verdict": ""}


@job_handler("monitoring.fairness")
def run_fairness(job, report_progress):
    return _run(job.params["report_id"], report_progress, _compute_fairness)


@job_handler("monitoring.drift")
def run_drift(job, report_progress):
    return _run(job.params["report_id"], report_progress, _compute_drift)


@job_handler("monitoring.what_if")
def run_what_if(job, report_progress):
    from monitoring.reports.explain import what_if
    from monitoring.reports.loading import ReportInputError

    dataset = EvaluationDataset.objects.select_related("version", "artifact__blob").get(pk=job.params["dataset_id"])
    try:
        df = _read_dataset(dataset.artifact, dataset.data_format, f"dataset {dataset.name}")
        model = _load_model(dataset.version, dataset)
        if not model.feature_names:
            model.feature_names = list(dataset.feature_columns)
        row = job.params.get("row")
        if row is None:
            index = int(job.params["row_index"])
            if not 0 <= index < len(df):
                raise ReportInputError(f"row_index: out of range 0–{len(df) - 1}.")
            row = {f: df.iloc[index][f] for f in model.feature_names}
            row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        background = df[model.feature_names]
        result = what_if(model, row, job.params["changes"], background=background, params={}, seed=0)
        return {**result, "explained_output": _explained_output(dataset.version, dataset, model)}
    except ReportInputError as exc:
        raise RuntimeError(str(exc)) from exc


@shared_task(name="monitoring.reconcile_reports")
def reconcile_reports():
    return {"failed_reports": services.reports_reconcile()}
