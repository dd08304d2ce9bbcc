"""Portal pages of model risk: the inventory dashboard (filters, CSV export), a model's risk
page (record, questionnaire, override, validations, findings), a validation's page and a
version's documentation. Thin: reads through the restricted selectors (another team's
objects answer 404), writes through ``governance.modelrisk.services``; buttons are decided
here and the services refuse the same cases again on POST."""

from __future__ import annotations

import csv
import datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST

from governance.modelrisk import questionnaire, selectors, services
from governance.modelrisk.choices import (
    ChecklistItem,
    ChecklistResult,
    EuAiActCategory,
    FindingState,
    ModelSource,
    Severity,
    Tier,
    ValidationOutcome,
    ValidationState,
)
from governance.modelrisk.models import InventoryRecord
from governance.roles import MODEL_VALIDATOR
from modelgate.core import roles
from modelgate.core.errors import ApplicationError
from modelgate.core.models import Team
from modelgate.core.permissions import restrict
from registry.models import RegisteredModel

STATUS_FILTERS = [
    ("in_prod", "In Prod"), ("prod_without_validation", "In Prod without a current validation"),
    ("overdue", "Revalidation overdue"), ("due soon", "Revalidation due within 30 days"),
    ("none", "Never validated"), ("open_findings", "With open findings"),
    ("monitoring_missing", "In Prod without the monitoring rules its tier requires"),
]
CSV_COLUMNS = ("model", "team", "tier", "eu_ai_act_category", "in_prod", "validation_status", "revalidation_due",
               "open_high", "open_medium", "open_low", "oldest_open_finding_days", "prod_without_validation", "monitoring_missing")


def _refused(request, exc: ApplicationError, back):
    if exc.status_code == 403:
        return render(request, "governance/refused.html", {"reason": exc.message}, status=403)
    messages.error(request, f"Refused: {exc.message}")
    return back


def _visible_model(user, name):
    return get_object_or_404(restrict(RegisteredModel.objects.select_related("team"), user, "view"), name=name)


# --- dashboard -------------------------------------------------------------------------------


@login_required
def dashboard(request):
    if not request.user.has_perm("governance.view_inventoryrecord"):
        return render(request, "governance/refused.html", {"reason": "Your role does not read the model inventory."}, status=403)
    filters = {k: request.GET.get(k, "") for k in ("tier", "status", "team")}
    if filters["tier"] not in ("", "unassessed", *map(str, Tier.values)):
        filters["tier"] = ""
    rows = selectors.inventory_rows(request.user, **filters)
    if request.GET.get("export") == "csv":
        return _csv(rows)
    if request.GET.get("export") == "xlsx":
        return _xlsx(rows)
    summary = {
        "models": len(rows), "tier_1": sum(1 for r in rows if r["tier"] == 1),
        "unassessed": sum(1 for r in rows if r["tier"] is None),
        "overdue": sum(1 for r in rows if r["validation_status"] == "overdue"),
        "open_findings": sum(r["open_findings"] for r in rows),
        "prod_without_validation": sum(1 for r in rows if r["prod_without_validation"]),
    }
    export_query = request.GET.copy()
    export_query.pop("export", None)
    return render(request, "governance/modelrisk/dashboard.html", {
        "rows": rows, "filters": filters, "summary": summary, "tiers": Tier.choices, "statuses": STATUS_FILTERS,
        "teams": Team.objects.order_by("name"), "export_query": export_query.urlencode(),
    })


def _export_row(r) -> list:
    return [r["model"].name, r["model"].team.slug, r["tier"] or "", r["eu_ai_act_category"], r["in_prod"],
            r["validation_status"], r["revalidation_due"] or "", r["findings"].get("high", 0),
            r["findings"].get("medium", 0), r["findings"].get("low", 0),
            "" if r["oldest_finding_days"] is None else r["oldest_finding_days"], r["prod_without_validation"],
            " ".join(r["monitoring_missing"])]


def _csv(rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="modelgate-model-inventory.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(_export_row(r))
    return response


def _xlsx(rows) -> HttpResponse:
    """The same table as the CSV, as an Excel workbook (openpyxl's write-only mode)."""
    import io

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Model inventory")
    sheet.append(list(CSV_COLUMNS))
    for r in rows:
        # Cells starting with = + - @ would be formulas in Excel: model names are slugs, but say so explicitly.
        sheet.append([f"'{v}" if isinstance(v, str) and v[:1] in "=+-@" else v for v in _export_row(r)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = 'attachment; filename="modelgate-model-inventory.xlsx"'
    return response


# --- a model's risk page ---------------------------------------------------------------------


def _finding_actions(user, finding, *, team_member: bool, independent: bool) -> list[str]:
    if roles.is_read_only(user):
        return []
    actions = []
    if team_member and finding.state == FindingState.OPEN:
        actions.append("remediate")
    if independent and finding.state == FindingState.REMEDIATION_SUBMITTED:
        actions += ["close", "reopen"]
    if user.has_perm("governance.accept_risk_finding") and finding.state in (FindingState.OPEN, FindingState.REMEDIATION_SUBMITTED):
        actions.append("accept")
    return actions


@login_required
def model_risk(request, name):
    model = _visible_model(request.user, name)
    user = request.user
    record = InventoryRecord.objects.filter(registered_model=model).select_related("owner", "override_by", "assessed_by").first()
    team_member = not roles.is_read_only(user) and services.models_user_can_change(user).filter(pk=model.pk).exists()
    independent = (not roles.is_read_only(user) and roles.has_role(user, MODEL_VALIDATOR)
                   and not services.in_owning_team(user, model))
    findings = list(selectors.finding_list(user).filter(registered_model=model).order_by("state", "due_date", "id"))
    for finding in findings:
        finding.actions = _finding_actions(user, finding, team_member=team_member, independent=independent)
        finding.overdue = finding.state in (FindingState.OPEN, FindingState.REMEDIATION_SUBMITTED) and \
            finding.due_date < datetime.date.today()
    versions = list(model.versions.order_by("-version").select_related("model_document"))
    return render(request, "governance/modelrisk/model_risk.html", {
        "model": model, "record": record, "questions": questionnaire.QUESTIONS,
        "can_assess": team_member or (not roles.is_read_only(user) and roles.has_role(user, roles.RISK_OFFICER)),
        "can_override": not roles.is_read_only(user) and user.has_perm("governance.override_tier"),
        "can_validate": independent, "team_member": team_member,
        "validations": list(selectors.validation_list(user).filter(version__registered_model=model).order_by("-created_at")),
        "findings": findings, "versions": versions, "tiers": Tier.choices, "sources": ModelSource.choices,
        "categories": EuAiActCategory.choices,
    })


@require_POST
@login_required
def model_risk_action(request, name, action):
    model = _visible_model(request.user, name)
    back = redirect("governance:model-risk", name=model.name)
    post = request.POST
    try:
        if action == "describe":
            owner = get_user_model().objects.filter(username=post.get("owner", "").strip(), is_active=True).first() \
                if post.get("owner", "").strip() else None
            data = {f: post.get(f, "").strip() for f in ("purpose", "business_use", "accountable_executive", "output_users",
                                                          "vendor")}
            data.update(source=post.get("source", ModelSource.IN_HOUSE), owner=owner)
            services.inventory_record_update(user=request.user, model=model, data=data)
            messages.success(request, "Inventory record saved.")
        elif action == "assess":
            answers = {key: post.get(key, "") for key in questionnaire.QUESTIONS}
            answers["decisions_about_people"] = {"true": True, "false": False}.get(post.get("decisions_about_people", ""))
            record = services.inventory_assess(user=request.user, model=model, answers=answers)
            messages.success(request, f"Assessed: {record.get_tier_display()}.")
        elif action == "override":
            tier = post.get("tier", "")
            record = services.inventory_override_tier(user=request.user, model=model,
                                                      tier=int(tier) if tier.isdigit() else None, reason=post.get("reason", ""))
            messages.success(request, f"Tier is now {record.get_tier_display()}.")
        elif action == "validate":
            version = get_object_or_404(model.versions.all(), pk=post.get("version_id") or 0) \
                if str(post.get("version_id", "")).isdigit() else None
            if version is None:
                raise Http404
            validation = services.validation_start(user=request.user, version=version, scope=post.get("scope", ""))
            messages.success(request, f"Validation #{validation.pk} started.")
            return redirect("governance:validation-detail", pk=validation.pk)
        elif action == "document":
            version = get_object_or_404(model.versions.all(), pk=post.get("version_id") or 0) \
                if str(post.get("version_id", "")).isdigit() else None
            if version is None:
                raise Http404
            document = services.document_create(user=request.user, version=version)
            return redirect("governance:document-detail", pk=document.pk)
        else:
            raise Http404
    except ApplicationError as exc:
        return _refused(request, exc, back)
    return back


# --- validations -----------------------------------------------------------------------------


@login_required
def validation_detail(request, pk):
    validation = get_object_or_404(selectors.validation_list(request.user), pk=pk)
    user = request.user
    mine = (validation.validator_id == user.pk and validation.state == ValidationState.IN_PROGRESS
            and not roles.is_read_only(user))
    independent = (not roles.is_read_only(user) and roles.has_role(user, MODEL_VALIDATOR)
                   and not services.in_owning_team(user, validation.version.registered_model))
    model = validation.version.registered_model
    rows = [{"key": key, "label": ChecklistItem(key).label if key in ChecklistItem.values else key, **value}
            for key, value in validation.checklist.items()]
    members = get_user_model().objects.filter(groups=model.team.group, is_active=True).order_by("username")
    return render(request, "governance/modelrisk/validation_detail.html", {
        "validation": validation, "model": model, "rows": rows, "can_edit": mine, "can_raise": independent,
        "results": ChecklistResult.choices, "outcomes": [c for c in ValidationOutcome.choices if c[0]],
        "severities": Severity.choices, "members": members,
        "findings": list(selectors.finding_list(user).filter(validation=validation)),
        "default_due": datetime.date.today() + datetime.timedelta(days=30),
    })


@require_POST
@login_required
def validation_action(request, pk, action):
    validation = get_object_or_404(selectors.validation_list(request.user), pk=pk)
    back = redirect("governance:validation-detail", pk=validation.pk)
    post = request.POST
    try:
        if action == "checklist":
            checklist = {key: {"result": post.get(f"result-{key}", value["result"]), "note": post.get(f"note-{key}", value["note"])}
                         for key, value in validation.checklist.items()}
            services.validation_update(user=request.user, validation=validation, checklist=checklist,
                                       summary=post.get("summary", validation.summary))
            messages.success(request, "Checklist saved.")
        elif action == "sign":
            services.validation_sign(user=request.user, validation=validation, outcome=post.get("outcome", ""),
                                     summary=post.get("summary", ""), conditions=post.get("conditions", ""))
            messages.success(request, "Validation signed; its evidence is frozen.")
        elif action == "finding":
            owner = get_user_model().objects.filter(username=post.get("owner", "")).first()
            due = parse_date(post.get("due_date", "") or "")
            if due is None:
                messages.error(request, "Refused: give a due date (YYYY-MM-DD).")
                return back
            finding = services.finding_create(user=request.user, validation=validation, title=post.get("title", ""),
                                              severity=post.get("severity", ""), description=post.get("description", ""),
                                              owner=owner, due_date=due)
            messages.success(request, f"Finding #{finding.pk} raised; {finding.owner} has been told.")
        else:
            raise Http404
    except ApplicationError as exc:
        return _refused(request, exc, back)
    return back


# --- findings --------------------------------------------------------------------------------


@require_POST
@login_required
def finding_action(request, pk, action):
    finding = get_object_or_404(selectors.finding_list(request.user), pk=pk)
    back = redirect("governance:model-risk", name=finding.registered_model.name)
    post = request.POST
    try:
        if action == "remediate":
            services.finding_submit_remediation(user=request.user, finding=finding, remediation=post.get("remediation", ""))
            messages.success(request, f"Remediation submitted for finding #{finding.pk}; the validator has been told.")
        elif action == "close":
            services.finding_close(user=request.user, finding=finding, comment=post.get("comment", ""))
            messages.success(request, f"Finding #{finding.pk} closed.")
        elif action == "reopen":
            services.finding_reopen(user=request.user, finding=finding, comment=post.get("comment", ""))
            messages.success(request, f"Finding #{finding.pk} sent back to its owner.")
        elif action == "accept":
            expires = parse_date(post.get("expires", "") or "")
            services.finding_accept_risk(user=request.user, finding=finding, reason=post.get("reason", ""), expires=expires)
            messages.success(request, f"Risk of finding #{finding.pk} accepted until {expires}.")
        else:
            raise Http404
    except ApplicationError as exc:
        return _refused(request, exc, back)
    return back


# --- documentation ---------------------------------------------------------------------------


@login_required
def document_detail(request, pk):
    document = get_object_or_404(selectors.document_list(request.user), pk=pk)
    model = document.version.registered_model
    can_edit = not roles.is_read_only(request.user) and (
        services.models_user_can_change(request.user).filter(pk=model.pk).exists()
        or roles.has_role(request.user, roles.RISK_OFFICER))
    return render(request, "governance/modelrisk/document_detail.html",
                  {"document": document, "model": model, "can_edit": can_edit})


@require_POST
@login_required
def document_save(request, pk):
    document = get_object_or_404(selectors.document_list(request.user), pk=pk)
    texts = {s["key"]: request.POST[f"text-{s['key']}"] for s in document.sections if f"text-{s['key']}" in request.POST}
    try:
        services.document_update(user=request.user, document=document, texts=texts)
    except ApplicationError as exc:
        return _refused(request, exc, redirect("governance:document-detail", pk=document.pk))
    messages.success(request, "Documentation saved.")
    return redirect("governance:document-detail", pk=document.pk)


@login_required
def document_export(request, pk):
    document = get_object_or_404(selectors.document_list(request.user), pk=pk)
    try:
        content, content_type, digest = services.document_export(
            user=request.user, document=document, file_format=request.GET.get("file_format", "html"))
    except ApplicationError as exc:
        return _refused(request, exc, redirect("governance:document-detail", pk=document.pk))
    extension = "pdf" if content_type == "application/pdf" else "html"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = (f'attachment; filename="{model_filename(document)}.{extension}"')
    response["X-Content-SHA256"] = digest
    return response


def model_filename(document) -> str:
    return f"{document.version.registered_model.name}-v{document.version.version}-documentation"

