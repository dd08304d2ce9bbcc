"""Every write about evaluation datasets, reports and model cards.

Reports are requested here and computed by the worker (``monitoring.report_tasks``);
the web process never loads a model or imports an ML library.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from modelgate.core import audit, jobs
from modelgate.core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from modelgate.core.models import Job, JobStatus
from modelgate.core.permissions import has_action_perm, restrict
from monitoring.choices import DataFormat, ReportKind, ReportStatus, TaskType
from monitoring.models import EvaluationDataset, ModelCard, Report
from monitoring.reports import modelcard as mc
from registry import storage
from registry.choices import ArtifactKind
from registry.models import Artifact, ModelVersion, RegisteredModel

# Bumped when the computation changes meaning, so old stored reports are not reused for new requests.
REPORT_CODE_VERSION = "1"
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
PARAMETER_KEYS = {
    ReportKind.EXPLAINABILITY: {"sample_size", "background_size", "top_features", "explain_rows", "feature_perturbation", "pdp_grid", "pdp_rows", "beeswarm_points", "max_evals"},
    ReportKind.FAIRNESS: {"min_group_n", "min_ratio", "confidence_level", "representation_ratio", "threshold"},
    ReportKind.DRIFT: {"large_sample_rows", "p_value", "distance_threshold", "psi_warn", "psi_fail", "psi_bins", "drift_share", "categorical_max_unique", "categorical_features", "stattest", "per_feature"},
}
# A registered model may carry per-model default thresholds in this tag (a JSON object per report kind).
MODEL_DEFAULTS_TAG = "monitoring.report_defaults"


def _model_audit(version: ModelVersion) -> dict:
    model = version.registered_model
    return {"team_slug": model.team.slug, "model_name": model.name, "registered_model_id": model.pk}


def _require_writable_version(user, version: ModelVersion, model_cls) -> ModelVersion:
    """Role axis (add/change on our model) and team axis (change on the registered model)."""
    if not restrict(ModelVersion.objects.filter(pk=version.pk), user, "view").exists():
        raise NotFoundError("Model version not found.")
    if not has_action_perm(user, model_cls, "add"):
        raise PermissionDeniedError(f"You may not add {model_cls._meta.verbose_name_plural}.")
    if not restrict(RegisteredModel.objects.filter(pk=version.registered_model_id), user, "change").exists():
        raise PermissionDeniedError("Only the owning team may do this for its model versions.")
    return ModelVersion.objects.select_related("registered_model__team").get(pk=version.pk)


def _string_list(value, field: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ApplicationError(f"{field}: a list of column names is required.", fields={field: ["a list of column names"]})
    if len(set(value)) != len(value):
        raise ApplicationError(f"{field}: column names repeat.", fields={field: ["duplicate column names"]})
    return list(value)


def _schema_columns(version: ModelVersion) -> tuple[list[str], list[str]]:
    schema = version.input_schema
    if not isinstance(schema, dict):
        return [], []
    if version.schema_format == "avro":
        fields = [f.get("name") for f in schema.get("fields", []) if isinstance(f, dict)]
        required = [f.get("name") for f in schema.get("fields", []) if isinstance(f, dict) and not (isinstance(f.get("type"), list) and "null" in f["type"])]
        return fields, required
    return list((schema.get("properties") or {}).keys()), list(schema.get("required") or [])


def evaluationdataset_attach(
    *, user, version: ModelVersion, name: str, feature_columns: list[str], label_column: str,
    chunks: Iterable[bytes] | None = None, artifact: Artifact | None = None, data_format: str = DataFormat.CSV,
    reference_chunks: Iterable[bytes] | None = None, reference_artifact: Artifact | None = None,
    prediction_column: str = "", sensitive_columns: list[str] | None = None, positive_label=1, positive_label_meaning: str = "",
    task: str = TaskType.CLASSIFICATION, expected_sha256: str | None = None,
) -> EvaluationDataset:
    """Attach a CSV/Parquet dataset (uploaded now, or an existing artifact of the version) with column roles.

    Everything checkable without reading the file is checked before a byte is
    stored (names, roles, the version's input schema); the file's own columns
    are checked by the worker, which fails the report naming them.
    """
    version = _require_writable_version(user, version, EvaluationDataset)
    errors: dict[str, list[str]] = {}
    if not NAME_RE.match(name or ""):
        errors["name"] = ["use 1–128 letters, digits, '-', '_' or '.'"]
    if data_format not in DataFormat.values:
        errors["data_format"] = [f"one of {', '.join(DataFormat.values)}"]
    if task not in TaskType.values:
        errors["task"] = [f"one of {', '.join(TaskType.values)}"]
    if (chunks is None) == (artifact is None):
        errors["file"] = ["send a file or an artifact_id (exactly one)"]
    if reference_chunks is not None and reference_artifact is not None:
        errors["reference_file"] = ["send a reference file or a reference_artifact_id, not both"]
    if not isinstance(positive_label, str | int | float | bool):
        errors["positive_label"] = ["a string or number"]
    if errors:
        raise ApplicationError("The dataset description is invalid.", fields=errors)
    features = _string_list(feature_columns, "feature_columns")
    sensitive = _string_list(sensitive_columns or [], "sensitive_columns")
    if not features:
        raise ApplicationError("feature_columns: at least one feature column.", fields={"feature_columns": ["at least one column"]})
    if not isinstance(label_column, str) or not label_column:
        raise ApplicationError("label_column is required.", fields={"label_column": ["required"]})
    if label_column in features:
        raise ApplicationError("label_column must not also be a feature.", fields={"label_column": ["is also a feature column"]})
    schema_cols, required = _schema_columns(version)
    if schema_cols:
        unknown = [c for c in features if c not in schema_cols]
        absent = [c for c in required if c not in features]
        if unknown or absent:
            parts = []
            if unknown:
                parts.append(f"not in the version's input schema: {', '.join(unknown)}")
            if absent:
                parts.append(f"required by the input schema but not declared as features: {', '.join(absent)}")
            raise ApplicationError(f"feature_columns: {'; '.join(parts)}.", code="schema_mismatch", fields={"feature_columns": parts})
    for candidate, field in ((artifact, "artifact_id"), (reference_artifact, "reference_artifact_id")):
        if candidate is not None and candidate.version_id != version.pk:
            raise ApplicationError(f"{field}: the artifact belongs to another version.", fields={field: ["not an artifact of this version"]})
    if EvaluationDataset.objects.filter(version=version, name=name).exists():
        raise ConflictError(f"This version already has a dataset named {name!r}.", code="already_exists", fields={"name": ["already exists"]})

    # Stream outside any transaction (uploads are long); rows are written below, all or nothing.
    extension = "parquet" if data_format == DataFormat.PARQUET else "csv"
    blob = storage.store_stream(chunks, expected_sha256=expected_sha256) if chunks is not None else None
    reference_blob = storage.store_stream(reference_chunks) if reference_chunks is not None else None
    with transaction.atomic():
        if blob is not None:
            artifact = _dataset_artifact(user, version, f"evaluation/{name}/data.{extension}", blob)
        if reference_blob is not None:
            reference_artifact = _dataset_artifact(user, version, f"evaluation/{name}/reference.{extension}", reference_blob)
        dataset = EvaluationDataset(
            version=version, name=name, artifact=artifact, reference_artifact=reference_artifact, data_format=data_format,
            task=task, feature_columns=features, label_column=label_column, prediction_column=prediction_column or "",
            sensitive_columns=sensitive, positive_label=positive_label, positive_label_meaning=positive_label_meaning or "", created_by=user,
        )
        _full_clean(dataset)
        try:
            with transaction.atomic():
                dataset.save(force_insert=True)
        except IntegrityError:
            raise ConflictError(f"This version already has a dataset named {name!r}.", code="already_exists", fields={"name": ["already exists"]}) from None
        audit.record(
            action="monitoring.dataset.attach", obj=dataset, **_model_audit(version),
            changes=audit.diff({}, {
                "name": name, "sha256": artifact.blob_id, "reference_sha256": reference_artifact.blob_id if reference_artifact else None,
                "roles": dataset.column_roles,
            }),
        )
    return dataset


def _dataset_artifact(user, version: ModelVersion, path: str, blob) -> Artifact:
    # Evaluation data is evidence about the version, not part of the model package, so it may be
    # added after the version is ready; the path namespace keeps it apart from the model files.
    if Artifact.objects.filter(version=version, path=path).exists():
        raise ConflictError(f"{path} already exists for this version.", code="already_exists", fields={"name": ["already exists"]})
    artifact = Artifact(version=version, path=path, kind=ArtifactKind.DATASET, blob=blob, content_type="", created_by=user)
    artifact.save(force_insert=True)
    audit.record(action="registry.artifact.upload", obj=artifact, **_model_audit(version),
                 changes=audit.diff({}, {"path": path, "sha256": blob.sha256, "size": blob.size, "kind": ArtifactKind.DATASET}))
    return artifact


def _full_clean(obj) -> None:
    try:
        obj.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise ApplicationError("Invalid values.", fields=exc.message_dict) from None


def model_artifact(version: ModelVersion) -> Artifact | None:
    return version.artifacts.filter(kind=ArtifactKind.MODEL).select_related("blob").order_by("path").first()


def _model_defaults(version: ModelVersion, kind: str) -> dict:
    raw = (version.registered_model.tags or {}).get(MODEL_DEFAULTS_TAG)
    if not raw:
        return {}
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    value = data.get(kind) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _check_parameters(kind: str, parameters) -> dict:
    if not isinstance(parameters, dict):
        raise ApplicationError("parameters must be an object.", fields={"parameters": ["must be an object"]})
    unknown = sorted(set(parameters) - PARAMETER_KEYS[kind])
    if unknown:
        raise ApplicationError(
            f"parameters: unknown for a {kind} report: {', '.join(unknown)}.",
            fields={f"parameters.{k}": [f"unknown; known: {', '.join(sorted(PARAMETER_KEYS[kind]))}"] for k in unknown},
        )
    return parameters


def fingerprint(payload: dict) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def report_request(*, user, version: ModelVersion, dataset: EvaluationDataset, kind: str, parameters: dict | None = None, seed: int = 0) -> tuple[Report, bool]:
    """Queue a report, or return the stored one computed from the same inputs. Returns (report, created)."""
    version = _require_writable_version(user, version, Report)
    if kind not in ReportKind.values:
        raise ApplicationError(f"kind: one of {', '.join(ReportKind.values)}.", fields={"kind": [f"one of {', '.join(ReportKind.values)}"]})
    if dataset.version_id != version.pk:
        raise ApplicationError("dataset: belongs to another version.", fields={"dataset": ["not a dataset of this version"]})
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ApplicationError("seed: an integer 0–2³²−1.", fields={"seed": ["an integer 0–4294967295"]})
    parameters = {**_model_defaults(version, kind), **_check_parameters(kind, parameters or {})}
    model_file = model_artifact(version)
    needs_model = kind == ReportKind.EXPLAINABILITY or (kind == ReportKind.FAIRNESS and not dataset.prediction_column)
    if needs_model and model_file is None:
        raise ApplicationError("This version has no model artifact (kind 'model') to explain or predict with.", code="no_model", fields={"version": ["no model artifact"]})
    if kind == ReportKind.DRIFT and dataset.reference_artifact_id is None:
        raise ApplicationError("A drift report needs a reference dataset attached to the evaluation dataset.", code="no_reference", fields={"dataset": ["no reference dataset"]})
    if kind == ReportKind.FAIRNESS and not dataset.sensitive_columns:
        raise ApplicationError("A fairness report needs sensitive columns on the dataset.", fields={"dataset": ["no sensitive columns"]})
    inputs = {
        "kind": kind, "version_id": version.pk, "code_version": REPORT_CODE_VERSION,
        "model": {"path": model_file.path, "sha256": model_file.blob_id} if model_file and kind != ReportKind.DRIFT else None,
        "framework": version.framework,
        "dataset": {"name": dataset.name, "sha256": dataset.artifact.blob_id, "format": dataset.data_format},
        "reference_sha256": dataset.reference_artifact.blob_id if dataset.reference_artifact_id else None,
        "roles": dataset.column_roles,
    }
    fp = fingerprint({"inputs": inputs, "parameters": parameters, "seed": seed})
    existing = Report.objects.filter(kind=kind, fingerprint=fp).exclude(status=ReportStatus.FAILED).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            report = Report(kind=kind, version=version, dataset=dataset, fingerprint=fp, inputs=inputs, parameters=parameters, seed=seed, created_by=user)
            _full_clean(report)
            report.save(force_insert=True)
            report.job = jobs.enqueue(kind=f"monitoring.{kind}", params={"report_id": report.pk}, user=user, obj=report)
            report.save(update_fields=["job"])
            audit.record(action="monitoring.report.request", obj=report, **_model_audit(version),
                         changes=audit.diff({}, {"kind": kind, "fingerprint": fp, "parameters": parameters, "seed": seed, "dataset": dataset.name}))
    except IntegrityError:  # a concurrent request with the same inputs won
        return Report.objects.filter(kind=kind, fingerprint=fp).exclude(status=ReportStatus.FAILED).get(), False
    return report, True


# --- worker-side state changes (called by the job handlers) ------------------

def report_start(*, report_id: int) -> bool:
    return bool(Report.objects.filter(pk=report_id, status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING)).update(status=ReportStatus.RUNNING, started_at=timezone.now()))


@transaction.atomic
def report_complete(*, report_id: int, results: dict, figures: dict, timings: dict, sample_sizes: dict, library_versions: dict, verdict: str = "") -> Report:
    report = Report.objects.select_for_update().select_related("version__registered_model__team").get(pk=report_id)
    if report.is_finished:
        raise ConflictError(f"Report {report_id} has already ended ({report.status}); reports are immutable.")
    report.status = ReportStatus.SUCCEEDED
    report.results, report.figures, report.timings = results, figures, timings
    report.sample_sizes, report.library_versions, report.verdict = sample_sizes, library_versions, verdict
    report.finished_at = timezone.now()
    report.save(update_fields=["status", "results", "figures", "timings", "sample_sizes", "library_versions", "verdict", "finished_at"])
    audit.record(action="monitoring.report.succeed", obj=report, **_model_audit(report.version), changes={"verdict": verdict, "timings": timings})
    return report


@transaction.atomic
def report_fail(*, report_id: int, error: str, library_versions: dict | None = None) -> bool:
    report = Report.objects.select_for_update().select_related("version__registered_model__team").filter(pk=report_id).first()
    if report is None or report.is_finished:
        return False
    report.status = ReportStatus.FAILED
    report.error = error[:20000]
    report.finished_at = timezone.now()
    if library_versions:
        report.library_versions = library_versions
    report.save(update_fields=["status", "error", "finished_at", "library_versions"])
    audit.record(action="monitoring.report.fail", obj=report, **_model_audit(report.version), changes={"error": error[:500]})
    return True


def reports_reconcile() -> int:
    """Fail reports whose job ended without them (worker killed, time limit, sweeper)."""
    count = 0
    orphaned = Report.objects.filter(status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING)).filter(job__status=JobStatus.FAILED)
    for report_id, error in orphaned.values_list("pk", "job__error")[:500]:
        count += report_fail(report_id=report_id, error=error or "The report's job failed.")
    lost = Report.objects.filter(status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING), job__isnull=True)
    for report_id in lost.values_list("pk", flat=True)[:500]:
        count += report_fail(report_id=report_id, error="The report's job record is gone.")
    return count


# --- what-if --------------------------------------------------------------

def whatif_request(*, user, version: ModelVersion, dataset: EvaluationDataset, changes: dict, row: dict | None = None, row_index: int | None = None) -> Job:
    """Queue a short what-if job (the worker loads the model); the API waits on it briefly."""
    version = _require_writable_version(user, version, Report)
    if dataset.version_id != version.pk:
        raise ApplicationError("dataset: belongs to another version.", fields={"dataset": ["not a dataset of this version"]})
    if not isinstance(changes, dict) or not changes:
        raise ApplicationError("changes: an object of feature → new value.", fields={"changes": ["an object of feature → value"]})
    if (row is None) == (row_index is None):
        raise ApplicationError("Send a row or a row_index (exactly one).", fields={"row": ["send a row or a row_index"]})
    unknown = sorted((set(changes) | set(row or {})) - set(dataset.feature_columns))
    if unknown:
        raise ApplicationError(f"Unknown feature(s): {', '.join(unknown)}.", fields={"changes": [f"unknown features: {', '.join(unknown)}"]})
    if model_artifact(version) is None:
        raise ApplicationError("This version has no model artifact.", code="no_model", fields={"version": ["no model artifact"]})
    with transaction.atomic():
        job = jobs.enqueue(kind="monitoring.what_if", params={"dataset_id": dataset.pk, "row": row, "row_index": row_index, "changes": changes}, user=user, obj=version)
        audit.record(action="monitoring.whatif.request", obj=version, **_model_audit(version), changes={"changes": changes, "row_index": row_index})
    return job


# --- model cards ------------------------------------------------------------

def _card_inputs(version: ModelVersion) -> tuple[dict, list[Report]]:
    latest: dict[str, Report] = {}
    for report in Report.objects.filter(version=version, status=ReportStatus.SUCCEEDED).order_by("-finished_at", "-id"):
        latest.setdefault(report.kind, report)
    datasets = [
        {"name": d.name, "sha256": d.artifact.blob_id, "sensitive": d.sensitive_columns}
        for d in version.evaluation_datasets.select_related("artifact")
    ]
    model = version.registered_model
    owners = [model.team.name] + ([version.created_by.get_username()] if version.created_by else [])
    info = {
        "name": model.name, "number": version.version, "framework": version.get_framework_display(),
        "created_at": version.created_at.date().isoformat(), "owners": owners, "metrics": version.metrics,
        "source": version.source_repository or version.source_uri, "datasets": datasets,
        "input_format": version.get_schema_format_display() if version.input_schema else "",
        "output_format": json.dumps(version.output_schema) if version.output_schema else "",
        "training_run": _card_run(version),
    }
    return info, list(latest.values())


def _card_run(version: ModelVersion) -> dict | None:
    run = version.training_run
    if run is None:
        return {"external_id": version.run_id} if version.run_id else None
    return {"external_id": run.external_id, "name": run.name, "url": run.url, "metrics": run.metrics, "datasets": run.datasets}


def modelcard_generate(*, user, version: ModelVersion) -> ModelCard:
    """(Re)generate the derived part of the card from the registry and the latest reports; authored text is kept."""
    version = _require_writable_version(user, version, ModelCard)
    info, reports = _card_inputs(version)
    generated = mc.generate(version=info, reports=[{"id": r.pk, "kind": r.kind, "results": r.results or {}} for r in reports])
    with transaction.atomic():
        card, created = ModelCard.objects.select_for_update().get_or_create(version=version)
        before = {"generated": card.generated} if not created else {}
        card.generated = generated
        card.generated_at = card.updated_at = timezone.now()
        card.updated_by = user
        card.save()
        card.source_reports.set(reports)
        audit.record(action="monitoring.modelcard.generate", obj=card, **_model_audit(version),
                     changes={"reports": [r.pk for r in reports], "created": created, "changed": before.get("generated") != generated})
    return card


def modelcard_update(*, user, card: ModelCard, authored: dict) -> ModelCard:
    """Edit the parts a person writes (intended use, limitations, …)."""
    _require_writable_version(user, card.version, ModelCard)
    errors = mc.validate_authored(authored)
    if errors:
        raise ApplicationError("The model card fields are invalid.", fields={f"authored.{k}": v for k, v in errors.items()})
    with transaction.atomic():
        locked = ModelCard.objects.select_for_update().select_related("version__registered_model__team").get(pk=card.pk)
        before = locked.authored
        merged = {section: {**(before.get(section) or {}), **content} for section, content in authored.items()}
        locked.authored = {**before, **merged}
        locked.updated_by = user
        locked.updated_at = timezone.now()
        locked.save(update_fields=["authored", "updated_by", "updated_at"])
        audit.record(action="monitoring.modelcard.update", obj=locked, **_model_audit(locked.version), changes=audit.diff({"authored": before}, {"authored": locked.authored}))
    return locked
