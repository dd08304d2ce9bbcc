"""Portal pages of governance: promotion requests (the approver's page), the
auditor's audit trail, and the environment facts the registry pages show.

Thin: reads go through ``restrict()`` (other teams' requests answer 404),
writes call ``governance.services``; buttons are decided here on the server
and the POST is refused again by the service.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from governance import decision as decision_model
from governance import extensions, selectors
from governance.choices import DeploymentStatus, RequestState
from governance.modelrisk.policy import PolicyBook, effective_policy
from governance.models import Approval, CITestResult, Deployment, DeploymentSplit, Environment, PromotionRequest
from modelgate.core import audit, readable, roles, sentences
from modelgate.core.errors import ApplicationError
from modelgate.core.permissions import restrict
from modelgate.core.portal import htmx_partial, paginate
from modelgate.core.selectors import audit_events_for
from registry.models import ModelVersion

# --- what governance shows on the registry's pages (registered in governance.contributions) ---


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
            env_id: f"v{parts[0][0]}" if len(parts) == 1 else " / ".join(f"v{n} {w}%" for n, w in parts)
            for env_id, parts in envs.items()
        }
    return out


def filter_models_in_environment(queryset, environment_slug: str):
    active = Deployment.objects.filter(
        registered_model=OuterRef("pk"), environment__slug=environment_slug, status=DeploymentStatus.ACTIVE
    )
    return queryset.filter(Exists(active))


def environment_board(model) -> list:
    """The governance selector's board, plus the open requests per environment (one more query)."""
    rows = selectors.environment_board(model)
    open_requests = defaultdict(list)
    for req in PromotionRequest.objects.filter(
        version__registered_model=model, state__in=(RequestState.PENDING, RequestState.APPROVED)
    ).select_related("version").order_by("created_at"):
        open_requests[req.environment_id].append(req)
    for row in rows:
        row.open_requests = open_requests.get(row.environment.pk, [])
    return rows


def can_rollback(user, model) -> bool:
    """The rollback button: the role grants it and the user works in the owning team (the POST checks again)."""
    return (
        not roles.is_read_only(user) and user.has_perm("governance.rollback_deployment") and owning_team_member(user, model)
    )


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
    context = {"requests": requests, "serving": serving, "ci_results": ci_results, "mv": mv}
    # Buttons are decided here; the services refuse the same cases again on POST.
    if mv.status == "ready" and not roles.is_read_only(user) and owning_team_member(user, mv.registered_model):
        envs = environments()
        context["direct_envs"] = [e for e in envs if not e.read_only and roles.has_role(user, *e.direct_deploy_roles)]
        open_envs = {r.environment_id for r in requests if r.state in (RequestState.DRAFT, RequestState.PENDING, RequestState.APPROVED)}
        serving_envs = {s.deployment.environment_id for s in serving}
        context["request_envs"] = [
            e for e in envs if e not in context["direct_envs"] and e.pk not in open_envs and e.pk not in serving_envs
        ]
        book = PolicyBook([mv.registered_model_id])
        for env in context["request_envs"]:
            required = book.policy(env, mv.registered_model_id).required_approver_roles
            env.approver_labels = " + ".join(roles.ROLE_LABELS.get(r, r) for r in required) or "nobody"
    return context


def version_audit_filter(mv):
    """Object ids of governance rows about this version, so its history includes them."""
    return [str(pk) for pk in PromotionRequest.objects.filter(version=mv).values_list("pk", flat=True)]


# --- gates and approvals as a person reads them ---------------------------------------------


def gate_rows(request_obj) -> list[dict]:
    """Frozen gate results of a request as checklist rows."""
    return gate_rows_from(request_obj.evidence)


def gate_rows_from(evidence) -> list[dict]:
    """Gate results (stored evidence or a fresh evaluation) as checklist rows."""
    evidence = evidence or {}
    # Frozen at submission ("submitted"); re-evaluated just before deployment ("deployed").
    evaluation = evidence.get("deployed") or evidence.get("submitted") or evidence
    gates = evaluation.get("gates", []) if isinstance(evaluation, dict) else []
    rows = []
    for g in gates or []:
        if not isinstance(g, dict):
            continue
        result = g.get("result") if isinstance(g.get("result"), dict) else g
        passed = bool(result.get("passed")) or bool(result.get("overridden"))
        needs_review = bool(result.get("needs_review")) or bool(result.get("override_pending"))
        rows.append(
            {
                "label": g.get("label") or g.get("kind", "gate").replace("_", " ").capitalize(),
                "kind": g.get("kind", ""),
                "passed": passed,
                "needs_review": needs_review,
                "state": "review" if needs_review else ("pass" if passed else "fail"),
                "message": result.get("message", ""),
                "value": _readable(result.get("value")),
                "threshold": _readable(result.get("threshold")),
                "params": g.get("params") or {},
                "evidence": result.get("evidence") or {},
                "overridden": bool(result.get("overridden")),
            }
        )
    return rows


def _readable(value):
    """Gate values as a person reads them: lists joined, empty lists as "none"."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return value


def approval_slots(request_obj) -> list[dict]:
    """Each role the environment requires, and who filled it (or that it is still open)."""
    decided = {a.role: a for a in request_obj.approvals.all()}
    return [
        {"role": role, "label": roles.ROLE_LABELS.get(role, role), "approval": decided.get(role)}
        for role in _required_roles(request_obj)
    ]


def _required_roles(request_obj) -> list[str]:
    """Approver roles of the effective policy (environment plus risk tier), computed once per request object."""
    cached = getattr(request_obj, "_required_roles", None)
    if cached is None:
        cached = effective_policy(request_obj.environment, request_obj.version.registered_model).required_approver_roles
        request_obj._required_roles = cached
    return cached


def decision_for(user, request_obj) -> dict:
    """Can this user approve or reject now, and if not, why — in words.

    The service's own check (``promotion_decision_check``) decides, so the page and every
    POST give the same answer; a read-only role sees no form and no explanation.
    """
    from governance import services

    try:
        role = services.promotion_decision_check(user=user, request=request_obj)
    except ApplicationError as exc:
        return {"can_decide": False, "reason": "" if exc.code == "read_only" else exc.message, "silent": exc.code == "read_only"}
    return {"can_decide": True, "role": role, "role_label": roles.ROLE_LABELS.get(role, role)}


def owning_team_member(user, model) -> bool:
    """May act for the owning team (request, submit, deploy, cancel): the same test the services apply."""
    from governance.services import models_user_can_change

    return models_user_can_change(user).filter(pk=model.pk).exists()


def waiting_for(user, limit: int = 20) -> list[dict]:
    """The inbox: pending requests this user may decide now, oldest first, with role, gates and age."""
    now = timezone.now()
    rows = []
    for req in selectors.inbox_for_user(user)[:limit]:
        gates = gate_rows(req)
        role_names = req.inbox_roles or ([roles.RISK_OFFICER] if req.override_state == "pending" else [])
        rows.append(
            {
                "request": req,
                "role_label": ", ".join(roles.ROLE_LABELS.get(r, r) for r in role_names)
                + (" (gate override)" if not req.inbox_roles else ""),
                "gates_passed": sum(1 for g in gates if g["passed"]),
                "gates_total": len(gates),
                "gates_review": sum(1 for g in gates if g["needs_review"]),
                "age": now - (req.submitted_at or req.created_at),
            }
        )
    return rows


def decided_by_me(user, limit: int = 10) -> list[Approval]:
    """The approver's own decisions, newest first (one query)."""
    return list(Approval.objects.filter(user=user).select_related("request__version__registered_model", "request__environment")
                .order_by("-created_at", "-id")[:limit])


def reviews_due(user, limit: int = 15) -> list[Deployment]:
    """Active deployments under a periodic-review policy (Prod) the user may see, the soonest due first."""
    today = timezone.localdate()
    rows = list(selectors.deployment_list(user).filter(status=DeploymentStatus.ACTIVE, review_by__isnull=False)
                .order_by("review_by", "pk")[:limit])
    for row in rows:
        row.overdue = row.review_by < today
    return rows


def overrides_waiting(user, limit: int = 10) -> list[PromotionRequest]:
    """Pending requests whose gate override waits for a risk officer."""
    return list(selectors.promotion_request_list(user).filter(state=RequestState.PENDING, override_state="pending")
                .order_by("submitted_at", "pk")[:limit])


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
    qs = selectors.promotion_request_list(request.user).order_by("-created_at", "-pk")
    if state:
        qs = qs.filter(state=state)
    if request.GET.get("environment"):
        qs = qs.filter(environment__slug=request.GET["environment"])
    context = paginate(request, qs)
    rows = []
    page = list(context["page_obj"].object_list)
    all_environments = environments()
    book = PolicyBook([req.version.registered_model_id for req in page], environments=all_environments)
    for req in page:
        gates = gate_rows(req)
        required = book.policy(req.environment, req.version.registered_model_id).required_approver_roles
        rows.append({"request": req, "gates_passed": sum(1 for g in gates if g["passed"]), "gates_total": len(gates),
                     "approvals": len(req.approvals.all()), "required": len(required)})
    context.update({"rows": rows, "state": state, "states": RequestState.choices, "environments": all_environments,
                    "environment": request.GET.get("environment", ""), "waiting": waiting_for(request.user)})
    return render(request, "governance/request_list.html", context)


def _visible_request(user, pk):
    return get_object_or_404(selectors.promotion_request_list(user), pk=pk)


def _gates_for_page(req) -> tuple[list[dict], bool]:
    """Frozen evidence once submitted; for a draft, a preview evaluated now, so the
    requester sees which gate blocks submission and why (nothing is stored)."""
    if req.state != RequestState.DRAFT:
        return gate_rows(req), False
    from governance import services

    evaluation = services.gates_evaluate(version=req.version, environment=req.environment, request=req)
    return gate_rows_from({"submitted": evaluation}), True


def _passes(check, **kwargs) -> bool:
    """Does a service's check allow this now (it raises why not)?"""
    try:
        check(**kwargs)
    except ApplicationError:
        return False
    return True


def _request_context(user, req) -> dict:
    from governance import services

    gates, preview = _gates_for_page(req)
    return {
        "req": req,
        "gates": gates,
        "gates_preview": preview,
        "slots": approval_slots(req),
        "decision": decision_for(user, req),
        "board": environment_board(req.version.registered_model),
        "model": req.version.registered_model,
        "owner_actions": _owner_actions(user, req),
        "can_decide_override": _passes(services.promotion_override_check, user=user, request=req),
    }


def _owner_actions(user, req) -> list[tuple[str, str]]:
    if roles.is_read_only(user) or not owning_team_member(user, req.version.registered_model):
        return []
    actions = []
    if req.state == RequestState.DRAFT:
        actions.append(("submit", "Submit for approval"))
    if req.state == RequestState.APPROVED:
        actions.append(("deploy", f"Deploy to {req.environment.name}"))
    if req.state in (RequestState.DRAFT, RequestState.PENDING, RequestState.APPROVED):
        actions.append(("cancel", "Cancel request"))
    return actions


def _decision_context(user, req, gates) -> dict:
    """The decision page's top: summary in words, warnings no gate checks, the side-by-side
    comparison with what serves in the target environment now, and each gate's sources."""
    decision = decision_model.decision_for_request(user, req, gates)
    ci_results = decision_model.ci_results_for_gates(gates)
    for gate in gates:
        gate["links"] = decision_model.gate_links(gate, ci_results)
        gate["tables"] = readable.table(gate["evidence"])
    rows = decision_model.comparison(decision)
    sections = []
    for row in rows:
        if not sections or sections[-1]["title"] != row.section:
            sections.append({"title": row.section, "rows": []})
        sections[-1]["rows"].append(row)
    return {"facts": decision, "summary": decision_model.summary(decision),
            "warnings": decision_model.warnings(decision), "comparison": sections}


@login_required
def request_detail(request, pk):
    req = _visible_request(request.user, pk)
    context = _request_context(request.user, req)
    context.update(_decision_context(request.user, req, context["gates"]))
    # Reports and other evidence higher apps contribute (governance.extensions).
    context["reports"] = extensions.version_evidence(request.user, req.version)
    context["ci_results"] = list(CITestResult.objects.filter(version=req.version).order_by("-created_at")[:20])
    context["history"] = audit_events_for(request.user).filter(
        object_type="governance.promotionrequest", object_id=str(req.pk)
    ).order_by("-id")[:50]
    return render(request, "governance/request_detail.html", context)


# The pack is self-contained: a stricter policy than the portal's proves it loads nothing.
EVIDENCE_PACK_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


@require_GET
@login_required
def request_evidence(request, pk, file_format):
    """The evidence pack as PDF or HTML; each download records its SHA-256 in the audit chain."""
    from governance import evidence

    if file_format not in evidence.FORMATS:
        raise Http404("The evidence pack comes as .pdf or .html.")
    req = _visible_request(request.user, pk)
    gates, _preview = _gates_for_page(req)
    pack = evidence.evidence_pack_generate(user=request.user, request=req, gates=gates, file_format=file_format)
    response = HttpResponse(pack.content, content_type=pack.content_type)
    disposition = "attachment" if file_format == "pdf" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{pack.filename}"'
    response["X-Content-SHA256"] = pack.sha256
    response["Content-Security-Policy"] = EVIDENCE_PACK_CSP
    response["Cache-Control"] = "no-store"
    return response


@login_required
def request_status(request, pk):
    """HTMX partial: the live status block (state, approvals, decision form)."""
    req = _visible_request(request.user, pk)
    return render(request, "governance/partials/request_status.html", _request_context(request.user, req))


# --- auditor ------------------------------------------------------------------------------------

AUDIT_FILTERS = ("date_from", "date_to", "model", "actor", "action", "object_type")


def _audit_queryset(user, params):
    qs = audit_events_for(user).order_by("-id")
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
        # One action chosen in the dropdown matches exactly ("promotion.approve" is not "promotion.approved");
        # a group ("promotion.") or typed text matches as a prefix.
        if sentences.is_action(params["action"]):
            qs = qs.filter(action=params["action"])
        else:
            qs = qs.filter(action__startswith=params["action"])
    if params.get("object_type"):
        qs = qs.filter(object_type=params["object_type"])
    return qs


@login_required
@permission_required("core.view_auditevent", raise_exception=True)
def audit_trail(request):
    filters = {k: request.GET.get(k, "") for k in AUDIT_FILTERS}
    context = paginate(request, _audit_queryset(request.user, filters), per_page=50)
    context.update({"filters": filters, "filtered": any(filters.values()), "export_links": _export_links(filters),
                    "action_choices": sentences.action_choices()})
    return render(request, "governance/audit_trail.html", context)


def _export_links(filters) -> list[tuple[str, str]]:
    """Links to the audit export API (CSV and JSON) carrying the same filters as the page."""
    params = {}
    if parse_date(filters["date_from"] or ""):
        params["since"] = f"{filters['date_from']}T00:00:00Z"
    if parse_date(filters["date_to"] or ""):
        params["until"] = f"{parse_date(filters['date_to']) + timedelta(days=1)}T00:00:00Z"
    action_param = "action" if sentences.is_action(filters["action"]) else "action_prefix"
    for ours, theirs in (("model", "model"), ("actor", "actor"), ("action", action_param), ("object_type", "object_type")):
        if filters[ours]:
            params[theirs] = filters[ours]
    base = reverse("v1:auditevent-export")
    return [(label, f"{base}?{urlencode({**params, 'file_format': fmt})}") for label, fmt in (("CSV", "csv"), ("JSON", "json"))]


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
            services.promotion_request_approve(user=request.user, request=req, comment=comment)
        else:
            services.promotion_request_reject(user=request.user, request=req, comment=comment)
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
        context = _request_context(request.user, req)
        context.update(_decision_context(request.user, req, context["gates"]))
        return render(request, "governance/request_detail.html", {**context, "history": []}, status=status)
    return redirect("governance:request-detail", pk=req.pk)


def _refused(request, exc, back):
    """A refused write: 403 with the reason in words for permission refusals, else back with a message."""
    if exc.status_code == 403:
        return render(request, "governance/refused.html", {"reason": exc.message}, status=403)
    messages.error(request, f"Refused: {exc.message}")
    return back


@require_POST
@login_required
def version_promote(request, pk):
    """Open a promotion request for a version and submit it (gates are evaluated on submit)."""
    from governance import services

    mv = get_object_or_404(restrict(ModelVersion.objects.select_related("registered_model"), request.user, "view"), pk=pk)
    env = get_object_or_404(Environment, slug=request.POST.get("environment", ""))
    back = redirect("registry:version-detail", name=mv.registered_model.name, version=mv.version)
    try:
        req = services.promotion_request_create(
            user=request.user, version=mv, environment=env,
            reason=request.POST.get("reason", "").strip(), justification=request.POST.get("justification", ""),
        )
    except ApplicationError as exc:
        return _refused(request, exc, back)
    try:
        services.promotion_request_submit(user=request.user, request=req)
    except ApplicationError as exc:
        messages.warning(request, f"Request #{req.pk} was saved as a draft but not submitted: {exc.message}")
        return redirect("governance:request-detail", pk=req.pk)
    messages.success(request, f"Request #{req.pk} submitted: {mv} to {env.name}. The approvers have been told.")
    return redirect("governance:request-detail", pk=req.pk)


@require_POST
@login_required
def version_deploy(request, pk):
    """Deploy directly where the environment's policy lets the user's role (Dev)."""
    from governance import services

    mv = get_object_or_404(restrict(ModelVersion.objects.select_related("registered_model"), request.user, "view"), pk=pk)
    env = get_object_or_404(Environment, slug=request.POST.get("environment", ""))
    back = redirect("registry:model-detail", name=mv.registered_model.name)
    try:
        services.deployment_create_direct(user=request.user, version=mv, environment=env, note=request.POST.get("note", ""))
    except ApplicationError as exc:
        return _refused(request, exc, back)
    messages.success(request, f"{mv} now serves in {env.name}.")
    return back


@require_POST
@login_required
def request_override(request, pk):
    """A risk officer decides on the written justification overriding a gate."""
    from governance import services

    req = _visible_request(request.user, pk)
    back = redirect("governance:request-detail", pk=req.pk)
    approve = request.POST.get("decision") == "approve"
    try:
        services.promotion_override_decide(user=request.user, request=req, approve=approve, comment=request.POST.get("comment", ""))
    except ApplicationError as exc:
        return _refused(request, exc, back)
    messages.success(request, f"You {'accepted' if approve else 'refused'} the justification on request #{req.pk}.")
    return back


@require_POST
@login_required
def deployment_rollback(request, pk):
    """Return a model in one environment to its previous deployment."""
    from governance import services

    deployment = get_object_or_404(selectors.deployment_list(request.user), pk=pk)
    back = redirect("registry:model-detail", name=deployment.registered_model.name)
    try:
        restored = services.deployment_rollback(user=request.user, deployment=deployment, note=request.POST.get("note", ""))
    except ApplicationError as exc:
        return _refused(request, exc, back)
    versions = ", ".join(f"v{s.version.version}" for s in restored.splits.select_related("version"))
    messages.success(request, f"{deployment.registered_model.name} in {deployment.environment.name} rolled back to {versions}.")
    return back


REQUEST_ACTIONS = ("submit", "deploy", "cancel")


@require_POST
@login_required
def request_action(request, pk, action):
    """The owning team's moves on a request: submit a draft, deploy an approved one, cancel."""
    from governance import services

    if action not in REQUEST_ACTIONS:
        raise Http404
    req = _visible_request(request.user, pk)
    try:
        if action == "submit":
            services.promotion_request_submit(user=request.user, request=req)
            messages.success(request, f"Request #{req.pk} submitted; the approvers have been told.")
        elif action == "deploy":
            services.promotion_request_deploy(user=request.user, request=req, note=request.POST.get("note", ""))
            messages.success(request, f"{req.version} now serves in {req.environment.name}.")
        else:
            services.promotion_request_cancel(user=request.user, request=req, comment=request.POST.get("comment", ""))
            messages.success(request, f"Request #{req.pk} cancelled.")
    except ApplicationError as exc:
        return _refused(request, exc, redirect("governance:request-detail", pk=req.pk))
    return redirect("governance:request-detail", pk=req.pk)


# --- access log (downloads) and failed sign-ins, outside the audit chain ---------------------------

ACCESS_FILTERS = ("date_from", "date_to", "actor", "model", "kind")


def _access_queryset(params):
    from modelgate.core.models import AccessLog

    qs = AccessLog.objects.order_by("-id")
    tz = timezone.get_current_timezone()
    if start := parse_date(params.get("date_from") or ""):
        qs = qs.filter(created_at__gte=timezone.make_aware(datetime.combine(start, time.min), tz))
    if end := parse_date(params.get("date_to") or ""):
        qs = qs.filter(created_at__lte=timezone.make_aware(datetime.combine(end, time.max), tz))
    for field, lookup in (("actor", "actor_username"), ("model", "model_name"), ("kind", "kind")):
        if params.get(field):
            qs = qs.filter(**{lookup: params[field]})
    return qs


def _failed_logins(params):
    from axes.models import AccessFailureLog

    qs = AccessFailureLog.objects.order_by("-attempt_time", "-id")
    if params.get("actor"):
        qs = qs.filter(username=params["actor"])
    tz = timezone.get_current_timezone()
    if start := parse_date(params.get("date_from") or ""):
        qs = qs.filter(attempt_time__gte=timezone.make_aware(datetime.combine(start, time.min), tz))
    if end := parse_date(params.get("date_to") or ""):
        qs = qs.filter(attempt_time__lte=timezone.make_aware(datetime.combine(end, time.max), tz))
    return qs


@require_GET
@login_required
@permission_required("core.view_auditevent", raise_exception=True)
def access_log(request):
    """Downloads (artifacts, model cards) and failed sign-ins: read access and refusals, shown to auditors."""
    filters = {k: request.GET.get(k, "") for k in ACCESS_FILTERS}
    context = paginate(request, _access_queryset(filters), per_page=50)
    context.update({
        "filters": filters, "filtered": any(filters.values()), "failed_logins": list(_failed_logins(filters)[:50]),
        "export_downloads": f"{reverse('governance:access-log-export', args=['downloads'])}?{urlencode({k: v for k, v in filters.items() if v})}",
        "export_failures": f"{reverse('governance:access-log-export', args=['failed-logins'])}?{urlencode({k: v for k, v in filters.items() if v})}",
    })
    return render(request, "governance/access_log.html", context)


@require_GET
@login_required
@permission_required("core.view_auditevent", raise_exception=True)
def access_log_export(request, log):
    """CSV of the filtered downloads or failed sign-ins, the filters and the day in its name."""
    import csv

    from django.http import StreamingHttpResponse

    filters = {k: request.GET.get(k, "") for k in ACCESS_FILTERS}
    if log == "downloads":
        columns = ("id", "created_at", "actor_username", "token_id", "source", "kind", "object_type", "object_id",
                   "object_repr", "model_name", "registered_model_id", "detail", "request_id", "client_ip")
        rows = _access_queryset(filters).order_by("id")
    elif log == "failed-logins":
        columns = ("id", "attempt_time", "username", "ip_address", "user_agent", "path_info", "locked_out")
        rows = _failed_logins(filters).order_by("id")
    else:
        raise Http404

    class Echo:
        def write(self, value):
            return value

    def stream():
        writer = csv.writer(Echo())
        yield writer.writerow(columns)
        for row in rows.values_list(*columns).iterator(chunk_size=2000):
            yield writer.writerow(["" if v is None else v for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    name = readable.export_filename(f"modelgate-{log}", {k: v for k, v in filters.items() if v}, "csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- access review (auditors, admins): read-only ----------------------------------------------

MEMBERSHIP_ACTIONS = ("user.grant_role", "user.revoke_role", "team.add_member", "team.remove_member", "team.create", "team.rename")


@require_GET
@login_required
@permission_required("core.view_auditevent", raise_exception=True)
def access_review(request):
    """Who holds which role and who is in which team now, and every change to either with who made it.
    Three queries: people with their groups, teams, the membership events."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from modelgate.core.models import Team

    teams = {t.group_id: t for t in Team.objects.all()}
    people = []
    users = get_user_model().objects.order_by("username").prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name")))
    for user in users:
        groups = list(user.groups.all())
        held = [roles.ROLE_LABELS[g.name] for g in groups if g.name in roles.ROLE_LABELS]
        if user.is_superuser:
            held.append("Superuser")
        people.append({"user": user, "roles": held, "teams": [teams[g.pk].name for g in groups if g.pk in teams]})
    by_role = [(label, [p["user"] for p in people if label in p["roles"]]) for label in roles.ROLE_LABELS.values()]
    events = audit_events_for(request.user).filter(action__in=MEMBERSHIP_ACTIONS).order_by("-id")
    context = paginate(request, events, per_page=50)
    context.update({"people": people, "by_role": by_role,
                    "teams": [(t, [p["user"] for p in people if t.name in p["teams"]]) for t in teams.values()]})
    return render(request, "governance/access_review.html", context)
