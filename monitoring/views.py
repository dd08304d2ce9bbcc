"""Portal pages of the monitoring app (reports section): a plain HTML view of each report and model card.

Thin: reads go through ``restrict()`` (another team's report answers 404);
figures are stored plotly JSON handed to the locally served plotly.js through
``json_script`` (the CSP forbids inline scripts).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from monitoring.reports.modelcard import merge
from monitoring.selectors import reports as selectors


@login_required
def report_detail(request, pk: int):
    report = selectors.report_get(user=request.user, pk=pk)
    if report is None:
        raise Http404("No such report.")
    status, error = selectors.effective_status(report)
    figures = [{"id": f"fig-{i}", "name": name, "figure": fig} for i, (name, fig) in enumerate(sorted((report.figures or {}).items()))]
    context = {"report": report, "status": status, "error": error, "figures": figures, "results": report.results or {}}
    return render(request, "monitoring/report_detail.html", context)


@login_required
def modelcard_detail(request, version_id: int):
    card = selectors.modelcard_get(user=request.user, version_id=version_id)
    if card is None:
        raise Http404("No model card for this version.")
    return render(request, "monitoring/model_card_page.html", {"card": merge(card.generated, card.authored), "object": card})
