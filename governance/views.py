"""Portal pages of governance: promotion requests (the approver's page), the
auditor's audit trail, and the environment facts the registry pages show.

Thin: reads go through ``restrict()`` (other teams' requests answer 404),
writes call ``governance.services``; buttons are decided here on the server
and the POST is refused again by the service.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET, require_POST

from governance.choices import DeploymentStatus, RequestState
from governance.models import Approval, CITestResult, Deployment, DeploymentSplit, Environment, PromotionRequest
from modelgate.core import audit, roles
from modelgate.core.errors import ApplicationError
from modelgate.core.models import AuditEvent
from modelgate.core.permissions import restrict
from modelgate.core.portal import htmx_partial, paginate

# --- helpers the registry pages call (lazily: the registry does not depend on governance) ---


def environments() -> list[Environment]:
    return list(Environment.objects.order_by("order"))


def current_versions_by_model(model_ids: list[int]) -> dict[int, dict[int, str]]:
    """{model id: {environment id: "v3" or "v3 90% / v4 10%"}} in one query, for a page of models."""
    splits = (
        DeploymentSplit.objects.filter(deployment__status=DeploymentStatus.ACTIVE, deployment__registered_model_id__in=model_ids)
        .order_by("-weight", "version__version")
        .values_list("deployment__registered_model_id", "deployment__environment_id", "version__version", "weight")
    )
    grouped: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for model_id, env_id, number, weight in splits:
        grouped[model_id][env_id].append((number, weight))
    out: dict[int, dict[int, str]] = {}
    for model_id, envs in grouped.items():
        out[model_id] = {
            env_id: str(parts[0][0]) if len(parts) == 1 else " / ".join(f"{n} ({w}%)" for n, w in parts)
            for env_id, parts in envs.items()
        }
    return out


def filter_models_in_environment(queryset, environment_slug: str):
    active = Deployment.objects.filter(
        registered_model=OuterRef("pk"), environment__slug=environment_slug, status=DeploymentStatus.ACTIVE
    )
    return queryset.filter(Exists(active))


def environment_board(model) -> list[dict]:
    """One card per environment: what serves there (with traffic split), since when, by whose approval."""
    active = {
        d.environment_id: d
        for d in Deployment.objects.filter(registered_model=model, status=DeploymentStatus.ACTIVE)
        .select_related("deployed_by", "promotion_request__requested_by")
        .prefetch_related(Prefetch("splits", queryset=DeploymentSplit.objects.select_related("version")))
    }
    pending = defaultdict(list)
    for req in PromotionRequest.objects.filter(
        version__registered_model=model, state__in=(RequestState.PENDING, RequestState.APPROVED)
    ).select_related("version"):
        pending[req.environment_id].append(req)
    return [{"environment": env, "deployment": active.get(env.pk), "open_requests": pending.get(env.pk, [])} for env in environments()]


def version_governance(mv, user) -> dict:
    """Promotion requests with their approvals, deployments and CI results of one version."""
    requests = list(
        restrict(PromotionRequest.objects.filter(version=mv), user, "view")
        .select_related("environment", "requested_by")
        .prefetch_related(Prefetch("approvals", queryset=Approval.objects.select_related("user")))
        .order_by("-created_at")
    )
    serving = list(
        DeploymentSplit.objects.filter(version=mv, deployment__status=DeploymentStatus.ACTIVE).select_related("deployment__environment")
    )
    ci_results = list(CITestResult.objects.filter(version=mv).order_by("-created_at")[:20])
    return {"requests": requests, "serving": serving, "ci_results": ci_results}


def version_audit_filter(mv):
    """Object ids of governance rows about this version, so its history includes them."""
    return [str(pk) for pk in PromotionRequest.objects.filter(version=mv).values_list("pk", flat=True)]


# --- gates and approvals as a person reads them ---------------------------------------------


def gate_rows(request_obj) -> list[dict]:
    """Frozen gate results as checklist rows, whatever shape of evidence governance stores."""
    evidence = request_obj.evidence or {}
    gates = evidence.get("gates", evidence) if isinstance(evidence, dict) else evidence
    if isinstance(gates, dict):
        gates = [{"kind": k, **(v if isinstance(v, dict) else {"value": v})} for k, v in gates.items()]
    rows = []
    for g in gates or []:
        if not isinstance(g, dict):
            continue
        result = g.get("result") if isinstance(g.get("result"), dict) else g
        passed = bool(result.get("passed"))
        needs_review = bool(result.get("needs_review"))
        rows.append(
            {
                "label": g.get("label") or g.get("kind", "gate").replace("_", " ").capitalize(),
                "kind": g.get("kind", ""),
                "passed": passed,
                "needs_review": needs_review,
                "state": "review" if needs_review else ("pass" if passed else "fail"),
                "message": result.get("message", ""),
                "value": result.get("value"),
                "threshold": result.get("threshold"),
                "params": g.get("params") or {},
                "evidence": result.get("evidence") or {},
            }
        )
    return rows


def approval_slots(request_obj) -> list[dict]:
    """Each role the environment requires, and who filled it (or that it is still open)."""
    decided = {a.role: a for a in request_obj.approvals.all()}
    return [
        {"role": role, "label": roles.ROLE_LABELS.get(role, role), "approval": decided.get(role)}
        for role in request_obj.environment.required_approver_roles
    ]


def decision_for(user, request_obj) -> dict:
    """Can this user approve or reject now, and if not, why — in words.

    The service refuses the same cases on POST; this only decides which buttons to show.
    """
    if request_obj.state != RequestState.PENDING:
        return {"can_decide": False, "reason": f"This request is {request_obj.get_state_display().lower()}; there is nothing to decide."}
    if roles.is_read_only(user) or not user.has_perm("governance.approve_promotionrequest"):
        return {"can_decide": False, "reason": "", "silent": True}
    required = list(request_obj.environment.required_approver_roles)
    mine = [r for r in required if roles.has_role(user, r)]
    if not mine:
        labels = " and ".join(roles.ROLE_LABELS.get(r, r) for r in required) or "no one"
        return {"can_decide": False, "reason": f"{request_obj.environment.name} needs approval from: {labels}. You hold none of these roles."}
    if request_obj.requested_by_id == user.pk:
        return {"can_decide": False, "reason": "You opened this request, so you cannot approve it: separation of duties requires a different person."}
    approvals = list(request_obj.approvals.all())
    if any(a.user_id == user.pk for a in approvals):
        return {"can_decide": False, "reason": "You have already decided on this request. One person may fill only one of the required roles."}
    filled = {a.role for a in approvals}
    open_roles = [r for r in mine if r not in filled]
    if not open_roles:
        return {"can_decide": False, "reason": "The role you hold has already been filled by another approver."}
    return {"can_decide": True, "role": open_roles[0], "role_label": roles.ROLE_LABELS.get(open_roles[0], open_roles[0])}


def waiting_for(user, limit: int = 20) -> list[dict]:
    """Pending requests this user can decide now (the inbox), oldest first, with the role they would fill."""
    if not user.has_perm("governance.approve_promotionrequest") or roles.is_read_only(user):
        return []
    pending = (
        restrict(PromotionRequest.objects.filter(state=RequestState.PENDING), user, "view")
        .exclude(requested_by=user)
        .exclude(approvals__user=user)
        .select_related("version__registered_model__team", "environment", "requested_by")
        .prefetch_related("approvals")
        .order_by("submitted_at", "created_at", "pk")
    )
    rows = []
    now = timezone.now()
    for req in pending[:200]:
        decision = decision_for(user, req)
        if decision.get("can_decide"):
            gates = gate_rows(req)
            rows.append(
                {
                    "request": req,
                    "role_label": decision["role_label"],
                    "gates_passed": sum(1 for g in gates if g["passed"]),
                    "gates_total": len(gates),
                    "gates_review": sum(1 for g in gates if g["needs_review"]),
                    "age": now - (req.submitted_at or req.created_at),
                }
            )
        if len(rows) >= limit:
            break
    return rows


def my_open_requests(user, limit: int = 10):
    return list(
        PromotionRequest.objects.filter(requested_by=user, state__in=(RequestState.DRAFT, RequestState.PENDING, RequestState.APPROVED))
        .select_related("version__registered_model", "environment")
        .prefetch_related("approvals")
        .order_by("-created_at")[:limit]
    )


# --- pages ------------------------------------------------------------------------------------


@login_required
def request_list(request):
    state = request.GET.get("state", RequestState.PENDING)
    qs = (
        restrict(PromotionRequest.objects.all(), request.user, "view")
        .select_related("version__registered_model__team", "environment", "requested_by")
        .prefetch_related("approvals")
        .order_by("-created_at", "-pk")
    )
    if state:
        qs = qs.filter(state=state)
    if request.GET.get("environment"):
        qs = qs.filter(environment__slug=request.GET["environment"])
    context = paginate(request, qs)
    rows = []
    for req in context["page_obj"].object_list:
        gates = gate_rows(req)
        rows.append({"request": req, "gates_passed": sum(1 for g in gates if g["passed"]), "gates_total": len(gates),
                     "approvals": len(req.approvals.all()), "required": len(req.environment.required_approver_roles)})
    context.update({"rows": rows, "state": state, "states": RequestState.choices, "environments": environments(),
                    "environment": request.GET.get("environment", ""), "waiting": waiting_for(request.user)})
    return render(request, "governance/request_list.html", context)


def _visible_request(user, pk):
    qs = restrict(PromotionRequest.objects.all(), user, "view").select_related(
        "version__registered_model__team", "environment", "requested_by", "override_decided_by"
    ).prefetch_related(Prefetch("approvals", queryset=Approval.objects.select_related("user")))
    return get_object_or_404(qs, pk=pk)


def _request_context(user, req) -> dict:
    return {
        "req": req,
        "gates": gate_rows(req),
        "slots": approval_slots(req),
        "decision": decision_for(user, req),
        "board": environment_board(req.version.registered_model),
        "model": req.version.registered_model,
    }


@login_required
def request_detail(request, pk):
    req = _visible_request(request.user, pk)
    context = _request_context(request.user, req)
    context["history"] = AuditEvent.objects.filter(object_type="governance.promotionrequest", object_id=str(req.pk)).order_by("-id")[:50]
    return render(request, "governance/request_detail.html", context)


@login_required
def request_status(request, pk):
    """HTMX partial: the live status block (state, approvals, decision form)."""
    req = _visible_request(request.user, pk)
    return render(request, "governance/partials/request_status.html", _request_context(request.user, req))


# --- auditor ------------------------------------------------------------------------------------

AUDIT_FILTERS = ("date_from", "date_to", "model", "actor", "action", "object_type")


def _audit_queryset(params):
    qs = AuditEvent.objects.order_by("-id")
    tz = timezone.get_current_timezone()
    start = parse_date(params.get("date_from") or "")
    end = parse_date(params.get("date_to") or "")
    if start:
        qs = qs.filter(created_at__gte=timezone.make_aware(datetime.combine(start, time.min), tz))
    if end:
        qs = qs.filter(created_at__lte=timezone.make_aware(datetime.combine(end, time.max), tz))
    if params.get("model"):
        qs = qs.filter(model_name=params["model"])
    if params.get("actor"):
        qs = qs.filter(actor_username=params["actor"])
    if params.get("action"):
        qs = qs.filter(action__startswith=params["action"])
    if params.get("object_type"):
        qs = qs.filter(object_type=params["object_type"])
    return qs


@login_required
@permission_required("core.view_auditevent", raise_exception=True)
def audit_trail(request):
    filters = {k: request.GET.get(k, "") for k in AUDIT_FILTERS}
    context = paginate(request, _audit_queryset(filters), per_page=50)
    context.update({"filters": filters, "filtered": any(filters.values()), "export_links": _export_links(filters)})
    return render(request, "governance/audit_trail.html", context)


def _export_links(filters) -> list[tuple[str, str]]:
    """Links to governance's audit export API (CSV and JSON) with the same filters, if it exists."""
    from django.urls import NoReverseMatch, reverse
    from django.utils.http import urlencode

    try:
        base = reverse("v1:audit-event-export")
    except NoReverseMatch:
        return []
    params = {k: v for k, v in filters.items() if v}
    return [(label, f"{base}?{urlencode({**params, 'format': fmt})}") for label, fmt in (("CSV", "csv"), ("JSON", "json"))]


@require_GET
@login_required
@permission_required("core.view_auditevent", raise_exception=True)
def audit_verify(request):
    """Walk the hash chain now and report the first broken link (HTMX partial)."""
    result = audit.verify_chain()
    template = "governance/partials/chain_result.html" if htmx_partial(request) else "governance/chain_result_page.html"
    return render(request, template, {"result": result, "checked_at": timezone.now()})


# --- decisions (writes go through governance.services) ----------------------------------------


@require_POST
@login_required
def request_decide(request, pk):
    """Approve or reject with a required comment; HTMX swaps the live status block back in."""
    from governance import services

    req = _visible_request(request.user, pk)
    decision = request.POST.get("decision")
    comment = request.POST.get("comment", "").strip()
    if decision not in ("approve", "reject"):
        messages.error(request, "Choose Approve or Reject.")
        return _after_decision(request, req, status=400)
    if not comment:
        messages.error(request, "A comment is required: say what you checked and why you decide this way.")
        return _after_decision(request, req, status=400)
    try:
        if decision == "approve":
            services.promotion_approve(user=request.user, promotion_request=req, comment=comment)
        else:
            services.promotion_reject(user=request.user, promotion_request=req, comment=comment)
    except PermissionDenied as exc:
        messages.error(request, f"Refused: {exc}")
        return _after_decision(request, req, status=403)
    except ApplicationError as exc:
        messages.error(request, f"Refused: {exc.message}")
        return _after_decision(request, req, status=exc.status_code)
    messages.success(request, f"You {'approved' if decision == 'approve' else 'rejected'} request #{req.pk}.")
    return _after_decision(request, _visible_request(request.user, pk))


def _after_decision(request, req, status=200):
    if htmx_partial(request):
        context = _request_context(request.user, req)
        context["oob_messages"] = True
        return render(request, "governance/partials/request_status.html", context, status=status)
    if status >= 400:
        return render(request, "governance/request_detail.html", {**_request_context(request.user, req), "history": []}, status=status)
    return redirect("governance:request-detail", pk=req.pk)
