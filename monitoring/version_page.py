"""Monitoring's part of the registry's version page: the report tabs (a version
panel) and the routes that request reports and what-ifs from it.

Registered in ``MonitoringConfig.ready()`` through ``registry.extensions``; the
registry itself knows nothing of reports. Thin: ``restrict()`` first (another
team's version answers 404), then monitoring's services, which decide and refuse.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from modelgate.core import roles
from modelgate.core.errors import ApplicationError
from modelgate.core.models import Job
from modelgate.core.permissions import restrict
from modelgate.core.portal import htmx_partial
from monitoring.choices import ReportKind, ReportStatus
from monitoring.models import Report
from monitoring.selectors import reports as selectors
from monitoring.services import reports as services
from registry.extensions import Panel
from registry.models import ModelVersion, RegisteredModel

FIGURES_PER_TAB = 2


def reports_panel(mv, user) -> dict:
    """Report tabs of a version: the newest report of each kind with its first figures,
    the datasets to compute from, and whether this user may request one."""
    reports = list(selectors.report_list(user=user, version_id=mv.pk).order_by("-created_at", "-pk")[:50])
    latest = {}
    for report in reports:
        latest.setdefault(report.kind, report)
    done = [r.pk for r in latest.values() if r.status == ReportStatus.SUCCEEDED]
    stored = {pk: (figures, results) for pk, figures, results in Report.objects.filter(pk__in=done).values_list("pk", "figures", "results")}
    tabs = []
    for kind, label in ReportKind.choices:
        report = latest.get(kind)
        figs, more = _tab_figures(report, *stored.get(report.pk, ({}, {}))) if report else ([], [])
        tabs.append({"kind": kind, "label": label, "report": report, "figures": figs, "more_figures": more})
    # Open the first tab that has something to show.
    selected = next(
        (t["kind"] for t in tabs if t["report"] and t["report"].status == ReportStatus.SUCCEEDED),
        next((t["kind"] for t in tabs if t["report"]), tabs[0]["kind"]),
    )
    for tab in tabs:
        tab["selected"] = tab["kind"] == selected
    can_request = (
        not roles.is_read_only(user)
        and user.has_perm("monitoring.add_report")
        and restrict(RegisteredModel.objects.filter(pk=mv.registered_model_id), user, "change").exists()
    )
    whatif_datasets = []
    if can_request and any(a.kind == "model" for a in mv.artifacts.all()):
        whatif_datasets = list(selectors.dataset_list(user=user, version_id=mv.pk))
    model_card = selectors.modelcard_get(user=user, version_id=mv.pk)
    reports_context = {
        "tabs": tabs, "history": reports, "model_card": model_card, "kinds": ReportKind.choices, "can_request": can_request,
        "whatif_datasets": whatif_datasets,
        "datasets": list(selectors.dataset_list(user=user, version_id=mv.pk)) if can_request else [],
    }
    return {"reports": reports_context}


PANEL = Panel(template="monitoring/partials/version_reports.html", context=reports_panel, position="bottom")


def _tab_figures(report, figures: dict, results: dict, prefix: str = "") -> tuple[list[dict], list[dict]]:
    """The first FIGURES_PER_TAB of a report's charts (most telling first) to draw in its tab, and
    the rest as links to the report page, so every chart is reachable from the tab."""
    ordered = selectors.report_figures(report=report, figures=figures or {}, results=results or {})
    shown = [{**entry, "id": f"fig-{prefix}{report.kind}-{i}"} for i, entry in enumerate(ordered[:FIGURES_PER_TAB])]
    return shown, ordered[FIGURES_PER_TAB:]


def _visible_version(user, name, version):
    model = get_object_or_404(restrict(RegisteredModel.objects.select_related("team"), user, "view"), name=name)
    return get_object_or_404(ModelVersion.objects.select_related("registered_model__team"), registered_model=model, version=version)


def _back_to_reports(name, version):
    return redirect(reverse("registry:version-detail", args=[name, version]) + "#reports")


@require_POST
@login_required
def report_request(request, name, version):
    """Queue a report (monitoring's service decides and refuses); HTMX gets the progress block back."""
    mv = _visible_version(request.user, name, version)
    dataset = selectors.dataset_list(user=request.user, version_id=mv.pk).filter(pk=request.POST.get("dataset") or 0).first()
    if dataset is None:
        messages.error(request, "Choose one of this version's evaluation datasets.")
        return _back_to_reports(name, version)
    try:
        report, created = services.report_request(user=request.user, version=mv, dataset=dataset, kind=request.POST.get("kind", ""))
    except ApplicationError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message)
        messages.error(request, f"Refused: {exc.message}")
        return _back_to_reports(name, version)
    messages.success(request, f"{report.get_kind_display()} report #{report.pk} {'queued' if created else 'already exists for these inputs'}.")
    if htmx_partial(request):
        return _progress_response(request, mv, report)
    return _back_to_reports(name, version)


@login_required
def report_progress(request, name, version, pk):
    """The job-status partial HTMX polls until the report is finished, then its charts."""
    mv = _visible_version(request.user, name, version)
    report = selectors.report_get(user=request.user, pk=pk)
    if report is None or report.version_id != mv.pk:
        raise Http404
    return _progress_response(request, mv, report)


def _progress_response(request, mv, report):
    status, error = selectors.effective_status(report)
    finished = status in ("succeeded", "failed")
    job = report.job if report.job_id else None
    progress = 100 if status == "succeeded" else (job.progress if job else 0)
    # A report split into chunk jobs says how far its chunks are, whichever workers run them.
    chunks = (job.chunks_done, job.chunks_total) if job is not None and job.chunks_total and not finished else None
    figures, more = [], []
    if status == "succeeded":
        stored = Report.objects.filter(pk=report.pk).values_list("figures", "results").first() or ({}, {})
        figures, more = _tab_figures(report, *stored, prefix=f"live-{report.pk}-")
    response = render(
        request,
        "monitoring/partials/report_progress.html",
        {"mv": mv, "model": mv.registered_model, "report": report, "status": status, "error": error,
         "finished": finished, "progress": progress, "chunks": chunks, "figures": figures, "more_figures": more, "oob_messages": htmx_partial(request)},
    )
    response["X-Report-Status"] = str(status)  # lets scripts and tests follow the polling without parsing HTML
    return response


def _parse_value(raw: str):
    """A form value as the model expects it: a number when it reads as one, else the text."""
    try:
        number = float(raw)
    except ValueError:
        return raw
    return int(number) if number.is_integer() and "." not in raw else number


@require_POST
@login_required
def whatif_request(request, name, version):
    """What-if for one row of an evaluation dataset: queue the worker job, then poll it."""
    mv = _visible_version(request.user, name, version)
    dataset = selectors.dataset_list(user=request.user, version_id=mv.pk).filter(pk=request.POST.get("dataset") or 0).first()
    if dataset is None:
        raise Http404
    changes = {f: _parse_value(request.POST[f"change__{f}"].strip()) for f in dataset.feature_columns if request.POST.get(f"change__{f}", "").strip()}
    try:
        row_index = int(request.POST.get("row_index", "0"))
    except ValueError:
        row_index = -1
    try:
        if row_index < 0:
            raise ApplicationError("Row number: a whole number from 0.", fields={"row_index": ["a whole number from 0"]})
        job = services.whatif_request(user=request.user, version=mv, dataset=dataset, changes=changes, row_index=row_index)
    except ApplicationError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message)
        return render(request, "monitoring/partials/whatif_result.html", {"error": exc.message, "finished": True}, status=400)
    return _whatif_response(request, mv, job)


@login_required
def whatif_result(request, name, version, job_id):
    mv = _visible_version(request.user, name, version)
    # Only the person who asked sees the job (it is keyed to the version they could write).
    job = get_object_or_404(Job, pk=job_id, kind="monitoring.what_if", created_by=request.user,
                            object_type="registry.modelversion", object_id=str(mv.pk))
    return _whatif_response(request, mv, job)


def _whatif_response(request, mv, job):
    result = job.result if job.status == "succeeded" else None
    rows = []
    if result:
        original, changed = result["original"], result["changed"]
        for feature in original["row"]:
            rows.append({"feature": feature, "before": original["row"][feature], "after": changed["row"][feature],
                         "changed": original["row"][feature] != changed["row"][feature],
                         "shap_before": original["shap"].get(feature), "shap_after": changed["shap"].get(feature)})
    return render(request, "monitoring/partials/whatif_result.html", {
        "mv": mv, "model": mv.registered_model, "job": job, "finished": job.is_finished, "result": result, "rows": rows,
        "error": job.error.split("\n\n")[0] if job.status == "failed" else "",
    })


# Relative to the registry's ``models/<str:name>/versions/<id:version>/``; names in the registry namespace.
ROUTES = [
    path("reports/", report_request, name="report-request"),
    path("reports/<id:pk>/progress/", report_progress, name="report-progress"),
    path("what-if/", whatif_request, name="whatif-request"),
    path("what-if/<uuid:job_id>/", whatif_result, name="whatif-result"),
]
