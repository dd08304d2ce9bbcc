"""Model documentation templates (SR 11-7 sections; EU AI Act Annex IV sections for
high-risk systems), the prefill from what Modelgate knows, and the export.

The template is chosen by tier and regime: ``sr11-7`` for every tier, ``sr11-7+annex-iv``
when the model is EU high-risk. Prefilled text is a starting point that people edit; the
exported file's SHA-256 is audited by ``services.document_export``.
"""

from __future__ import annotations

import importlib.util
import json

from django.template.loader import render_to_string
from django.utils import timezone

from governance.choices import DeploymentStatus, RequestState
from governance.modelrisk import extensions
from governance.modelrisk.choices import EuAiActCategory
from governance.modelrisk.models import Finding, InventoryRecord, ModelDocument, Validation
from governance.models import Approval, DeploymentSplit, PromotionRequest

SR_11_7 = [
    ("intended_purpose", "Intended purpose and use", "Purpose, business use, users of the output, limits of use."),
    ("data", "Data", "Development data, provenance, quality checks, representativeness."),
    ("design", "Design, theory and assumptions", "Method, features, key assumptions and why they hold."),
    ("performance", "Performance and limitations", "Outcomes analysis, back-testing, known weaknesses."),
    ("fairness", "Fairness", "Groups compared, metrics, thresholds and results."),
    ("validation", "Independent validation", "Scope, outcome and findings of the validation."),
    ("monitoring_plan", "Ongoing monitoring plan", "What is monitored in production, thresholds and who acts."),
    ("change_log", "Change log and approvals", "Versions, promotions and who approved them."),
]
ANNEX_IV_EXTRA = [
    ("human_oversight", "Human oversight (Art. 14)", "Who can intervene, how outputs are reviewed, how to stop the system."),
    ("risk_management", "Risk management system (Art. 9)", "Known and foreseeable risks and the measures taken."),
    ("logging", "Record-keeping and logging (Art. 12)", "What is logged and kept, for how long."),
    ("post_market", "Post-market monitoring (Art. 72)", "How performance in use is collected and evaluated."),
]
TEMPLATES = {"sr11-7": SR_11_7, "sr11-7+annex-iv": SR_11_7 + ANNEX_IV_EXTRA}


def template_for(record: InventoryRecord | None) -> str:
    if record is not None and record.eu_ai_act_category in (EuAiActCategory.HIGH_RISK, EuAiActCategory.PROHIBITED):
        return "sr11-7+annex-iv"
    return "sr11-7"


def _facts(version) -> dict[str, str]:
    """Prefilled text per section, from the registry, lineage, governance and other apps' evidence."""
    model = version.registered_model
    record = InventoryRecord.objects.filter(registered_model=model).first()
    lines: dict[str, list[str]] = {key: [] for key, _, _ in SR_11_7 + ANNEX_IV_EXTRA}
    if record is not None:
        lines["intended_purpose"] += [f"Purpose: {record.purpose}" if record.purpose else "",
                                      f"Business use: {record.business_use}" if record.business_use else "",
                                      f"Users of the output: {record.output_users}" if record.output_users else "",
                                      f"Risk tier: {record.get_tier_display()}" if record.tier else "Risk tier: not assessed",
                                      f"EU AI Act: {record.get_eu_ai_act_category_display()}" if record.eu_ai_act_category else ""]
    if model.description:
        lines["intended_purpose"].append(f"Model description: {model.description}")
    datasets = list(version.trained_on.select_related("dataset").order_by("pk"))
    for dv in datasets:
        lines["data"].append(f"Trained on {dv.dataset.name} {dv.version}" + (f" ({dv.uri})" if getattr(dv, "uri", "") else ""))
    if version.training_run_id:
        lines["data"].append(f"Training run: {version.training_run}")
    lines["design"].append(f"Framework: {version.get_framework_display()}.")
    if version.params:
        lines["design"].append("Parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(version.params.items())))
    if version.input_schema:
        from governance.gates import input_names

        names = input_names(version.input_schema)
        if names:
            lines["design"].append("Inputs: " + ", ".join(names))
    if version.metrics:
        lines["performance"].append("Metrics: " + ", ".join(f"{k} = {v}" for k, v in sorted(version.metrics.items())))
    for name, source in extensions.EVIDENCE_SOURCES.items():
        facts = source(version)
        for item in facts if isinstance(facts, list) else []:
            target = "fairness" if item.get("kind") == "fairness" else "performance"
            lines[target].append(f"{name}: {item.get('summary') or json.dumps(item, sort_keys=True, default=str)}")
    for validation in Validation.objects.filter(version=version).select_related("validator").order_by("created_at"):
        lines["validation"].append(f"Validation #{validation.pk} by {validation.validator}: "
                                   f"{validation.get_outcome_display() if validation.outcome else validation.get_state_display()}."
                                   f" Scope: {validation.scope}")
    for finding in Finding.objects.filter(versions=version).order_by("id"):
        lines["validation"].append(f"Finding #{finding.pk} ({finding.severity}, {finding.get_state_display().lower()}): {finding.title}")
    serving = DeploymentSplit.objects.filter(version=version, deployment__status=DeploymentStatus.ACTIVE).select_related(
        "deployment__environment")
    for split in serving:
        lines["monitoring_plan"].append(f"Serves in {split.deployment.environment.name} ({split.weight}% of traffic); "
                                        f"periodic review due {split.deployment.review_by or 'not set'}.")
        metrics = extensions.monitored_metrics([split.deployment_id]).get(split.deployment_id)
        if metrics:
            lines["monitoring_plan"].append("Monitored on: " + ", ".join(sorted(metrics)))
    for req in PromotionRequest.objects.filter(version=version).exclude(state=RequestState.CANCELLED).select_related(
            "environment", "requested_by").order_by("created_at"):
        lines["change_log"].append(f"{req.created_at.date()}: request #{req.pk} to {req.environment.name} by "
                                   f"{req.requested_by} — {req.get_state_display().lower()}.")
    for approval in Approval.objects.filter(request__version=version).select_related("user", "request__environment"):
        lines["change_log"].append(f"{approval.created_at.date()}: {approval.user} ({approval.role}) {approval.decision} "
                                   f"for {approval.request.environment.name}: {approval.comment}")
    return {key: "\n".join(line for line in value if line) for key, value in lines.items()}


def prefilled_sections(version) -> tuple[str, list[dict]]:
    record = InventoryRecord.objects.filter(registered_model=version.registered_model).first()
    template = template_for(record)
    facts = _facts(version)
    return template, [{"key": key, "title": title, "guidance": guidance, "prefilled": facts.get(key, ""), "text": ""}
                      for key, title, guidance in TEMPLATES[template]]


def export_formats() -> tuple[str, ...]:
    """HTML always; PDF when WeasyPrint is installed."""
    return ("html", "pdf") if importlib.util.find_spec("weasyprint") else ("html",)


def render(document: ModelDocument, file_format: str) -> tuple[bytes, str]:
    version = document.version
    record = InventoryRecord.objects.filter(registered_model=version.registered_model).first()
    html = render_to_string("governance/modelrisk/document_export.html", {
        "document": document, "version": version, "model": version.registered_model, "record": record,
        "generated_at": timezone.now(), "template_label": "SR 11-7 and EU AI Act Annex IV"
        if document.template == "sr11-7+annex-iv" else "SR 11-7",
    })
    if file_format == "pdf":
        import weasyprint

        return weasyprint.HTML(string=html).write_pdf(), "application/pdf"
    return html.encode(), "text/html; charset=utf-8"
