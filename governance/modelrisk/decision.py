"""What model risk tells an approver on the decision page whatever the target environment's
policy asks: the candidate's unresolved validation findings (a ``no_open_findings`` gate may
be absent, or block only from a higher severity)."""

from __future__ import annotations

from collections import Counter

from django.urls import reverse
from django.utils import timezone

from governance.decision import Decision, DecisionWarning
from governance.modelrisk.choices import SEVERITY_RANK, FindingState, Severity
from governance.modelrisk.gates import unresolved_findings


def findings_warnings(decision: Decision) -> list[DecisionWarning]:
    """One warning counting the candidate's unresolved findings by severity, overdue ones, and
    the one due first (one query)."""
    found = list(unresolved_findings([decision.candidate.pk]).order_by("due_date", "id"))
    if not found:
        return []
    today = timezone.localdate()
    counts = Counter(f.severity for f in found)
    severities = ", ".join(f"{counts[s]} {Severity(s).label.lower()}" for s in sorted(counts, key=SEVERITY_RANK.get, reverse=True))
    overdue = sum(1 for f in found if f.state != FindingState.RISK_ACCEPTED and f.due_date < today)
    expired = sum(1 for f in found if f.state == FindingState.RISK_ACCEPTED)
    plural = "s" if len(found) != 1 else ""
    message = f"{len(found)} unresolved finding{plural} on v{decision.candidate.version} ({severities})"
    if overdue:
        message += f", {overdue} past due"
    if expired:
        message += f", {expired} with an expired risk acceptance"
    first = found[0]
    message += f". Due first: “{first.title}” ({first.get_severity_display().lower()}, {first.get_state_display().lower()}) on {first.due_date:%Y-%m-%d}."
    url = reverse("governance:model-risk", kwargs={"name": decision.model.name}) + "#findings-title"
    return [DecisionWarning("Validation findings", message, url, "See the findings")]
