"""Reads of datasets, reports and model cards, always through ``restrict``."""

from __future__ import annotations

from django.db.models import QuerySet

from modelgate.core.permissions import restrict
from monitoring import presentation
from monitoring.choices import ReportStatus
from monitoring.models import EvaluationDataset, ModelCard, Report

# Heavy JSON columns left out of list queries (a list shows status, not results).
_LIST_DEFER = ("results", "figures")


def report_list(*, user, version_id=None, kind: str | None = None, status: str | None = None) -> QuerySet[Report]:
    qs = restrict(Report.objects.all(), user, "view").select_related("job", "version__registered_model", "dataset").defer(*_LIST_DEFER)
    if version_id is not None:
        qs = qs.filter(version_id=version_id)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def report_get(*, user, pk) -> Report | None:
    return restrict(Report.objects.all(), user, "view").select_related("job", "version__registered_model", "dataset").filter(pk=pk).first()


def effective_status(report: Report) -> tuple[str, str]:
    """(status, error): an unfinished report whose job already failed reads as failed even before reconciliation."""
    if not report.is_finished and report.job is not None and report.job.status == "failed":
        return ReportStatus.FAILED, report.job.error
    if not report.is_finished and report.job is not None and report.job.status == "running":
        return ReportStatus.RUNNING, ""
    return report.status, report.error


def report_figures(*, report: Report, figures: dict | None = None, results: dict | None = None) -> list[dict]:
    """A report's charts, most telling first, each with a heading in words and an anchor on the report page.
    ``figures``/``results`` stand in for the report's own when a list query deferred them."""
    return presentation.ordered_figures(report.kind, report.figures if figures is None else figures,
                                        report.results if results is None else results)


def latest_succeeded_report(*, version, kind: str) -> Report | None:
    """The newest succeeded report of a kind for a version (what gates read)."""
    return Report.objects.filter(version=version, kind=kind, status=ReportStatus.SUCCEEDED).order_by("-finished_at", "-id").first()


def dataset_list(*, user, version_id=None) -> QuerySet[EvaluationDataset]:
    qs = restrict(EvaluationDataset.objects.all(), user, "view").select_related("artifact", "reference_artifact", "version__registered_model")
    if version_id is not None:
        qs = qs.filter(version_id=version_id)
    return qs


def modelcard_get(*, user, version_id) -> ModelCard | None:
    return restrict(ModelCard.objects.all(), user, "view").select_related("version__registered_model__team").filter(version_id=version_id).first()
