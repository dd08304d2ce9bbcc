"""The evidence pack of a promotion request: one self-contained document (HTML or PDF)
a regulator can keep, with the version's identity and lineage, the frozen gates and their
evidence, the reports' key tables and charts, the model card, the approvals and the
request's audit events.

Self-contained: styles inline, charts as server-drawn SVG, no script, no external URL,
so WeasyPrint (which runs no JavaScript) renders the same document as the browser.
Every generation appends an audit event carrying the file's SHA-256, so a pack handed
over later can be checked against the hash chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from governance import decision as decision_model
from governance.models import Approval, CITestResult, PromotionRequest
from modelgate.core import audit, readable
from modelgate.core.selectors import audit_events_for
from registry.models import Artifact, DatasetVersion, VersionParent

FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
AUDIT_ACTION = "promotion.evidence_pack"


@dataclass
class EvidencePack:
    content: bytes
    sha256: str
    content_type: str
    filename: str


def pack_context(*, user, request: PromotionRequest, gates: list[dict]) -> dict:
    """Everything the pack shows, read with the user's visibility (the request is visible to them)."""
    from registry.views import lineage_diagram  # a pure layout function (server-drawn SVG)

    facts = decision_model.decision_for_request(user, request, gates)
    ci_results = decision_model.ci_results_for_gates(gates)
    for gate in gates:
        gate["links"] = decision_model.gate_links(gate, ci_results)
        gate["tables"] = readable.table(gate["evidence"])
    mv = request.version
    parents = list(VersionParent.objects.filter(child=mv).select_related("parent__registered_model"))
    children = list(VersionParent.objects.filter(parent=mv).select_related("child__registered_model"))
    mv = type(mv).objects.select_related("training_run", "registered_model__team").prefetch_related(
        Prefetch("trained_on", queryset=DatasetVersion.objects.select_related("dataset"))).get(pk=mv.pk)
    events = list(audit_events_for(user).filter(object_type="governance.promotionrequest", object_id=str(request.pk)).order_by("id"))
    return {
        "req": request,
        "mv": mv,
        "model": mv.registered_model,
        "facts": facts,
        "summary": decision_model.summary(facts),
        "warnings": decision_model.warnings(facts),
        "comparison": decision_model.comparison(facts),
        "gates": gates,
        "artifacts": list(Artifact.objects.filter(version=mv).select_related("blob").order_by("path")),
        "lineage": lineage_diagram(mv, parents, children),
        "ci_results": list(CITestResult.objects.filter(version=mv).order_by("created_at")),
        "approvals": list(Approval.objects.filter(request=request).select_related("user").order_by("created_at")),
        "sections": decision_model.evidence_sections(facts),
        "events": events,
        "generated_at": timezone.now(),
        "generated_by": user.get_username(),
    }


def render_html(context: dict) -> str:
    return render_to_string("governance/evidence_pack.html", context)


def render_pdf(html: str) -> bytes:
    """WeasyPrint turns the same HTML into PDF/A-ready PDF; no URL is fetched (everything is inline)."""
    import weasyprint  # imported here: only the pack needs it, and it loads Pango at import

    return weasyprint.HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()


def _refuse_fetch(url, *args, **kwargs):
    raise ValueError(f"The evidence pack is self-contained; refusing to fetch {url}")


def evidence_pack_generate(*, user, request: PromotionRequest, gates: list[dict], file_format: str) -> EvidencePack:
    """Render the pack and record its SHA-256 in the audit chain (in one transaction with nothing else)."""
    if file_format not in FORMATS:
        raise ValueError(f"file_format: one of {', '.join(FORMATS)}")
    html = render_html(pack_context(user=user, request=request, gates=gates))
    content = html.encode() if file_format == "html" else render_pdf(html)
    digest = hashlib.sha256(content).hexdigest()
    model = request.version.registered_model
    filename = f"evidence-request-{request.pk}-{model.name}-v{request.version.version}-{request.environment.slug}-" \
               f"{timezone.now():%Y%m%d-%H%M%S}.{file_format}"
    with transaction.atomic():
        audit.record(
            action=AUDIT_ACTION, obj=request, actor=user, model_name=model.name, registered_model_id=model.pk,
            team_slug=model.team.slug, changes={"format": file_format, "sha256": digest, "bytes": len(content), "filename": filename},
        )
    return EvidencePack(content=content, sha256=digest, content_type=FORMATS[file_format], filename=filename)
