"""Portal pages of the monitoring app (reports section): a plain HTML view of each report and model card.

Thin: reads go through ``restrict()`` (another team's report answers 404);
figures are stored plotly JSON handed to the locally served plotly.js through
``json_script`` (the CSP forbids inline scripts).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from monitoring import presentation
from monitoring.reports.modelcard import merge
from monitoring.selectors import reports as selectors


@login_required
def report_detail(request, pk: int):
    report = selectors.report_get(user=request.user, pk=pk)
    if report is None:
        raise Http404("No such report.")
    status, error = selectors.effective_status(report)
    results = report.results or {}
    figures = [{**entry, "id": f"fig-{i}"} for i, entry in enumerate(selectors.report_figures(report=report))]
    context = {"report": report, "status": status, "error": error, "figures": figures, "results": results}
    if report.kind == "fairness":
        context["fairness"] = presentation.fairness_tables(results, dataset=report.dataset)
    elif report.kind == "drift":
        context["drift_rows"] = presentation.drift_table(results)
    elif report.kind == "explainability" and report.dataset.task == "classification":
        context["favourable"] = presentation.favourable_outcome(
            label_column=report.dataset.label_column, positive_label=report.dataset.positive_label, meaning=report.dataset.positive_label_meaning,
        )
    return render(request, "monitoring/report_detail.html", context)


@login_required
def modelcard_detail(request, version_id: int):
    card = selectors.modelcard_get(user=request.user, version_id=version_id)
    if card is None:
        raise Http404("No model card for this version.")
    return render(request, "monitoring/model_card_page.html", {"card": merge(card.generated, card.authored), "object": card})
