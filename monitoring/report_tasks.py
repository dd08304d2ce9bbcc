"""Job handlers computing the reports in the worker.

Thin: re-fetch the report, mark it running, read inputs from the artifact
store, call the pure computation modules (``monitoring.reports.*``, imported
here lazily so nothing ML-related loads at import), store the immutable
result. Every exit path ends the report: a handled error fails it with a clear
message; a killed worker fails its job (redelivery handling or the sweeper) and
``reconcile_reports`` carries that to the report.
"""

from __future__ import annotations

import time
import traceback
from importlib import metadata

from celery import shared_task
from django.conf import settings
from django.db import connections

from modelgate.core.jobs import job_handler
from monitoring.choices import ReportKind
from monitoring.models import EvaluationDataset, Report
from monitoring.services import reports as services
from registry import storage

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
    from monitoring.reports.loading import ReportInputError, load_model, read_verified

    artifact = services.model_artifact(version)
    if artifact is None:
        raise ReportInputError("This version has no model artifact.")
    try:
        with storage.open_blob(artifact.blob) as handle:
            data = read_verified(handle, artifact.blob_id)
    except FileNotFoundError as exc:
        raise ReportInputError(f"{artifact.path}: the stored file is missing.") from exc
    return load_model(
        data, path=artifact.path, framework=version.framework, task=dataset.task,
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
    report = Report.objects.select_related("dataset__artifact__blob", "dataset__reference_artifact__blob", "version__registered_model").get(pk=report_id)
    if report.is_finished:
        return {"report_id": report_id, "status": report.status, "note": "already ended"}
    if not services.report_start(report_id=report_id):
        return {"report_id": report_id, "status": "not started", "note": "the report ended meanwhile"}
    versions = library_versions()
    started = time.perf_counter()
    try:
        out = compute(report, report_progress)
    except Exception as exc:
        message = _failure_message(exc)
        services.report_fail(report_id=report_id, error=message, library_versions=versions)
        raise RuntimeError(message) from exc
    out["timings"]["total"] = time.perf_counter() - started
    services.report_complete(report_id=report_id, library_versions=versions, **out)
    report_progress(100)
    return {"report_id": report_id, "status": "succeeded", "verdict": out.get("verdict", "")}


def _failure_message(exc: Exception) -> str:
    from monitoring.reports.loading import ReportInputError

    if isinstance(exc, ReportInputError | ValueError | KeyError):
        return str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {exc}\n\n{traceback.format_exc(limit=5)}"


def _compute_explainability(report: Report, report_progress) -> dict:
    from monitoring.presentation import name_explained_output
    from monitoring.reports.explain import explainability_report

    t0 = time.perf_counter()
    dataset, df, model, label = _prepare(report)
    report_progress(5)
    load = time.perf_counter() - t0
    out = explainability_report(
        model, df, label=label, params=report.parameters, seed=report.seed,
        chunk_rows=settings.REPORT_EXPLAIN_CHUNK_ROWS, processes=settings.REPORT_EXPLAIN_PROCESSES,
        progress=report_progress, before_fork=connections.close_all,
    )
    out["timings"]["load"] = load
    # One model, one explained output: SHAP, waterfalls and partial dependence all explain the model's
    # positive-class score, named as the version publishes it (fairness names its favourable label apart).
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
    return _run(job.params["report_id"], report_progress, _compute_explainability)


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
