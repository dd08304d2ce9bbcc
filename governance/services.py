"""Every governance write: policy edits, the promotion-request state machine,
approvals, deployments, rollbacks, lifecycle, CI results and webhooks.

Each service runs in one transaction, locks what it changes
(``select_for_update``), records an audit event and writes webhook outbox rows
in that same transaction; e-mails and task dispatch happen on commit.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from governance import aliases, audit_words
from governance.choices import (
    OPEN_REQUEST_STATES,
    REQUEST_TRANSITIONS,
    Decision,
    DeliveryStatus,
    DeploymentStatus,
    LifecycleState,
    OverrideState,
    RequestState,
    TestKind,
    WebhookEvent,
)
from governance.gates import GATE_KINDS, evaluate_gate
from governance.modelrisk.policy import effective_policy
from governance.models import (
    Approval,
    CITestResult,
    Deployment,
    DeploymentSplit,
    Environment,
    PromotionRequest,
    VersionLifecycle,
    Webhook,
    WebhookAllowedAddress,
    WebhookDelivery,
)
from modelgate.core import audit, roles
from modelgate.core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from modelgate.core.permissions import has_action_perm
from registry.choices import VersionStatus
from registry.models import ModelVersion, RegisteredModel

logger = logging.getLogger(__name__)

# --- helpers ----------------------------------------------------------------------


def _model_ctx(version_or_model) -> dict:
    model = version_or_model if isinstance(version_or_model, RegisteredModel) else version_or_model.registered_model
    return {"team_slug": model.team.slug, "model_name": model.name, "registered_model_id": model.pk}


def _audit(user, **kwargs):
    """Record with the acting user named explicitly (services also run from tasks and commands)."""
    return audit.record(actor=user if user is not None and user.is_authenticated else None, **kwargs)


def _full_clean(obj, **kwargs) -> None:
    """``full_clean`` whose errors become a 400 naming the fields."""
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        first, messages = next(iter(fields.items()))
        raise ApplicationError(f"{first}: {messages[0]}", fields=fields) from None


def _require_text(value: str, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ApplicationError(f"{what} is required.", code="required", fields={field: [f"{what} is required."]})
    return value


def _check_transition(req: PromotionRequest, target: str) -> None:
    if target not in REQUEST_TRANSITIONS[req.state]:
        allowed = ", ".join(REQUEST_TRANSITIONS[req.state]) or "none (the request is closed)"
        raise ConflictError(
            f"A {req.get_state_display().lower()} request cannot become {target}; allowed next states: {allowed}.",
            code="illegal_transition",
        )


def _lock_request(req: PromotionRequest) -> PromotionRequest:
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("environment", "version__registered_model__team", "requested_by")
        .get(pk=req.pk)
    )


def models_user_can_change(user):
    """Registered models whose team the user works in (guardian object permission), admins: all.

    Mirrors ``restrict``'s team axis without requiring registry's global change
    permission on the version (governance acts on the model's behalf)."""
    from guardian.shortcuts import get_objects_for_user

    if not user.is_authenticated or roles.is_read_only(user):
        return RegisteredModel.objects.none()
    if user.is_superuser or roles.has_role(user, roles.ADMIN):
        return RegisteredModel.objects.all()
    return get_objects_for_user(
        user, "registry.change_registeredmodel", klass=RegisteredModel.objects.all(),
        accept_global_perms=False, with_superuser=False,
    )


def _require_role(user, model, action: str, message: str = "") -> None:
    """The role axis, checked here for every surface (REST, MLflow, portal, commands): the
    object-less permission ``<app>.<action>_<model>``; read-only roles write nothing."""
    if not has_action_perm(user, model, action):
        raise PermissionDeniedError(
            message or f"Your role does not allow {action} on {model._meta.verbose_name_plural}.", code="role_not_allowed"
        )


def _require_team_member(user, model: RegisteredModel) -> None:
    if not models_user_can_change(user).filter(pk=model.pk).exists():
        raise PermissionDeniedError("Only the owning team may do this for this model.", code="not_owning_team")


def version_lifecycle_state(version: ModelVersion) -> str:
    state = VersionLifecycle.objects.filter(version=version).values_list("state", flat=True).first()
    return state or LifecycleState.ACTIVE


def _check_promotable(version: ModelVersion) -> None:
    state = version_lifecycle_state(version)
    if state != LifecycleState.ACTIVE:
        raise ConflictError(f"Version {version} is {state}; a {state} version cannot be promoted.", code="version_not_active")
    if version.status != VersionStatus.READY:
        raise ConflictError(
            f"Version {version} is {version.get_status_display().lower()}; only ready versions can be promoted.",
            code="version_not_ready",
        )


def _check_previous_environment(version: ModelVersion, environment: Environment) -> None:
    """Policy, independent of the configured gates: e.g. never Prod without UAT first."""
    if not environment.requires_previous_environment:
        return
    previous = environment.previous()
    if previous is None:
        return
    seen = DeploymentSplit.objects.filter(
        version=version,
        deployment__environment=previous,
        deployment__status__in=[DeploymentStatus.ACTIVE, DeploymentStatus.SUPERSEDED, DeploymentStatus.RETIRED],
    ).exists()
    if not seen:
        raise ConflictError(
            f"{environment.name} policy: version {version} must be deployed in {previous.name} first.",
            code="not_in_previous_environment",
        )


def _users_with_roles(role_names: Iterable[str], model: RegisteredModel | None = None):
    """Active users holding one of the roles; practitioner roles only count inside the owning team."""
    User = get_user_model()
    role_names = list(role_names)
    users = User.objects.filter(is_active=True, groups__name__in=role_names).exclude(email="").distinct()
    team_bound = [r for r in role_names if r in (roles.DATA_SCIENTIST, roles.ML_ENGINEER)]
    if model is not None and team_bound and len(team_bound) == len(role_names):
        users = users.filter(groups=model.team.group)
    return users


def _mail_on_commit(recipients, subject: str, body: str) -> None:
    emails = sorted({u.email for u in recipients if u.email})
    if not emails:
        return
    transaction.on_commit(
        lambda: send_mail(f"[Modelgate] {subject}", body, settings.DEFAULT_FROM_EMAIL, emails, fail_silently=True)
    )


# --- gates --------------------------------------------------------------------------


def gates_evaluate(*, version: ModelVersion, environment: Environment, request: PromotionRequest | None = None) -> dict:
    """Evaluate the environment's gates for a version; the result is frozen as evidence.

    An overridable gate that fails counts as passed only if the request carries
    a justification that a risk officer approved; with a justification awaiting
    approval it is reported as ``override_pending``.
    """
    results = []
    blocking = []
    override_needed = False
    # The environment's gates plus what the model's risk tier adds there (governance.modelrisk).
    policy = effective_policy(environment, version.registered_model)
    for index, gate in enumerate(policy.gates):
        kind, params = gate.get("kind"), dict(gate.get("params") or {})
        params["_context"] = {"environment": environment.slug, "protected_attributes": environment.protected_attributes}
        result = evaluate_gate(kind, version, params).as_dict()
        gate_kind = GATE_KINDS.get(kind)
        entry = {
            "index": index, "kind": kind, "label": gate_kind.label if gate_kind else kind,
            "params": gate.get("params") or {}, **result, "overridden": False, "override_pending": False,
            "source": gate.get("source", "environment"),
        }
        if not result["passed"] and gate_kind is not None and gate_kind.overridable and request is not None and request.justification:
            if request.override_state == OverrideState.APPROVED:
                entry["overridden"] = True
            elif request.override_state != OverrideState.REJECTED:
                entry["override_pending"] = True
                override_needed = True
        if not result["passed"] and not entry["overridden"] and not entry["override_pending"]:
            blocking.append(entry)
        results.append(entry)
    return {
        "evaluated_at": timezone.now().isoformat(),
        "version_id": version.pk,
        "environment": environment.slug,
        "passed": not blocking,
        "override_needed": override_needed,
        "tier": policy.tier,
        "required_approver_roles": policy.required_approver_roles,
        "gates": results,
    }


def _raise_if_blocked(evaluation: dict, when: str) -> None:
    if evaluation["passed"]:
        return
    failing = [g for g in evaluation["gates"] if not g["passed"] and not g["overridden"] and not g["override_pending"]]
    summary = "; ".join(f"{g['label']}: {g['message']}" for g in failing)
    raise ConflictError(
        f"Quality gates block {when}: {summary}",
        code="gates_failed",
        fields={"gates": [f"{g['kind']}: {g['message']}" for g in failing]},
    )


# --- environments -------------------------------------------------------------------

POLICY_FIELDS = (
    "name", "description", "direct_deploy_roles", "required_approver_roles", "gates", "read_only",
    "requires_previous_environment", "review_interval_days", "approval_max_age_days", "protected_attributes",
    "requires_risk_assessment",
)


@transaction.atomic
def environment_update_policy(*, user, environment: Environment, data: dict) -> Environment:
    if not (user.is_superuser or roles.has_role(user, roles.ADMIN)):
        raise PermissionDeniedError("Only administrators edit environment policies.")
    environment = Environment.objects.select_for_update().get(pk=environment.pk)
    before = {f: getattr(environment, f) for f in POLICY_FIELDS}
    for field, value in data.items():
        if field not in POLICY_FIELDS:
            raise ApplicationError(f"{field} is not a policy field.", fields={field: ["Not editable."]})
        setattr(environment, field, value)
    for gate in environment.gates if isinstance(environment.gates, list) else []:
        if isinstance(gate, dict) and gate.get("kind") not in GATE_KINDS:
            raise ApplicationError(
                f"Unknown gate kind {gate.get('kind')!r}.", fields={"gates": [f"Known kinds: {', '.join(sorted(GATE_KINDS))}."]}
            )
    environment.updated_at = timezone.now()
    _full_clean(environment)
    environment.save()
    after = {f: getattr(environment, f) for f in POLICY_FIELDS}
    audit_words.environment_name.cache_clear()  # sentences name environments as they are now called
    _audit(user, action="environment.update_policy", obj=environment, changes=audit.diff(before, after))
    return environment


# --- promotion requests -------------------------------------------------------------


@transaction.atomic
def promotion_request_create(
    *, user, version: ModelVersion, environment: Environment, reason: str = "", justification: str = ""
) -> PromotionRequest:
    _require_role(user, PromotionRequest, "add")
    # The version row lock serialises concurrent creates, so the "one open request" check holds.
    version = ModelVersion.objects.select_for_update(of=("self",)).select_related("registered_model__team").get(pk=version.pk)
    _require_team_member(user, version.registered_model)
    _check_promotable(version)
    if PromotionRequest.objects.filter(version=version, environment=environment, state__in=OPEN_REQUEST_STATES).exists():
        raise ConflictError(
            f"Version {version} already has an open request for {environment.name}.", code="duplicate_request"
        )
    req = PromotionRequest(
        version=version, environment=environment, requested_by=user, reason=reason, justification=justification.strip()
    )
    _full_clean(req)
    req.save()
    _audit(user,
        action="promotion.create", obj=req, **_model_ctx(version),
        changes={"state": {"before": None, "after": req.state}, "environment": {"before": None, "after": environment.slug},
                 "version": {"before": None, "after": version.version}},
    )
    return req


@transaction.atomic
def promotion_request_update(*, user, request: PromotionRequest, reason=None, justification=None) -> PromotionRequest:
    _require_role(user, PromotionRequest, "change")
    req = _lock_request(request)
    _require_team_member(user, req.version.registered_model)
    if req.state != RequestState.DRAFT:
        raise ConflictError("Only a draft request can be edited; cancel it and open a new one.", code="not_draft")
    before = {"reason": req.reason, "justification": req.justification}
    if reason is not None:
        req.reason = reason
    if justification is not None:
        req.justification = justification.strip()
    _full_clean(req)
    req.save(update_fields=["reason", "justification"])
    _audit(user, action="promotion.update", obj=req, changes=audit.diff(before, {"reason": req.reason, "justification": req.justification}),
                 **_model_ctx(req.version))
    return req


def required_approver_roles(req: PromotionRequest) -> list[str]:
    """The environment's approver roles plus the ones the model's risk tier adds there."""
    return effective_policy(req.environment, req.version.registered_model).required_approver_roles


def _required_roles_filled(req: PromotionRequest) -> bool:
    approved = set(req.approvals.filter(decision=Decision.APPROVED).values_list("role", flat=True))
    return set(required_approver_roles(req)) <= approved


def _maybe_approved(req: PromotionRequest, user) -> bool:
    """Move to approved when every required role approved and any override is settled."""
    if req.override_state == OverrideState.PENDING or not _required_roles_filled(req):
        return False
    before = req.state
    _check_transition(req, RequestState.APPROVED)
    req.state = RequestState.APPROVED
    req.decided_at = timezone.now()
    req.save(update_fields=["state", "decided_at"])
    _audit(user, action="promotion.approved", obj=req, changes=audit.diff({"state": before}, {"state": req.state}),
                 **_model_ctx(req.version))
    _emit(WebhookEvent.REQUEST_APPROVED, req.version.registered_model, _request_payload(req))
    _mail_on_commit(
        [req.requested_by], f"Approved: {req.version} to {req.environment.name}",
        f"Promotion request #{req.pk} ({req.version} → {req.environment.name}) is approved and may be deployed.",
    )
    return True


@transaction.atomic
def promotion_request_submit(*, user, request: PromotionRequest) -> PromotionRequest:
    _require_role(user, PromotionRequest, "change")
    req = _lock_request(request)
    _require_team_member(user, req.version.registered_model)
    _check_transition(req, RequestState.PENDING)
    _check_promotable(req.version)
    _check_previous_environment(req.version, req.environment)
    evaluation = gates_evaluate(version=req.version, environment=req.environment, request=req)
    _raise_if_blocked(evaluation, "submission")
    before = {"state": req.state, "override_state": req.override_state}
    req.evidence = {"submitted": evaluation}
    req.state = RequestState.PENDING
    req.submitted_at = timezone.now()
    if evaluation["override_needed"]:
        req.override_state = OverrideState.PENDING
    req.save(update_fields=["evidence", "state", "submitted_at", "override_state"])
    _audit(user,
        action="promotion.submit", obj=req, **_model_ctx(req.version),
        changes={**audit.diff(before, {"state": req.state, "override_state": req.override_state}),
                 "gates_passed": {"before": None, "after": evaluation["passed"]}},
    )
    _emit(WebhookEvent.REQUEST_OPENED, req.version.registered_model, _request_payload(req))
    # With no approver roles (e.g. Dev) the policy approves at once.
    if not _maybe_approved(req, user):
        to_notify = _users_with_roles(required_approver_roles(req), req.version.registered_model).exclude(pk=user.pk)
        if req.override_state == OverrideState.PENDING:
            to_notify = to_notify | _users_with_roles([roles.RISK_OFFICER])
        _mail_on_commit(
            to_notify, f"Approval needed: {req.version} to {req.environment.name}",
            f"Promotion request #{req.pk} by {req.requested_by} waits for your decision.\n"
            f"Version: {req.version}\nEnvironment: {req.environment.name}\nReason: {req.reason}\n",
        )
    return req


def promotion_decision_check(*, user, request: PromotionRequest, role: str | None = None) -> str:
    """May ``user`` approve or reject ``request`` now, and in which role? The one answer for every
    surface: the services call it before recording a decision, the portal to show or hide the
    decision form and say why, in the same words.

    Returns the role the decision fills; raises ``PermissionDeniedError`` (403) for who the user
    is, ``ConflictError`` (409) for the request's state. Reads ``request.approvals`` and its
    environment as given (a locked, fresh row in the services).
    """
    if request.state != RequestState.PENDING:
        raise ConflictError(
            f"This request is {request.get_state_display().lower()}; only a pending request can be approved or rejected.",
            code="illegal_transition",
        )
    required = required_approver_roles(request)
    approvals = list(request.approvals.all())
    filled = {a.role for a in approvals}
    if request.requested_by_id == user.pk:
        waiting = " and ".join(roles.ROLE_LABELS.get(r, r) for r in required if r not in filled) or "no one"
        raise PermissionDeniedError(
            "You opened this request, so you cannot decide on it: separation of duties requires a different person. "
            f"It waits for: {waiting}.", code="separation_of_duties",
        )
    if not user.is_authenticated or roles.is_read_only(user):
        raise PermissionDeniedError("Your role reads promotion requests; it decides none.", code="read_only")
    mine = [r for r in required if roles.has_role(user, r)]
    if not mine or not user.has_perm("governance.approve_promotionrequest"):
        labels = " and ".join(roles.ROLE_LABELS.get(r, r) for r in required) or "no one"
        raise PermissionDeniedError(
            f"{request.environment.name} needs approval from: {labels}. You hold none of these roles.",
            code="role_not_required",
        )
    if any(a.user_id == user.pk for a in approvals):
        raise ConflictError(
            "You have already decided on this request; separation of duties: one person cannot fill two roles.",
            code="separation_of_duties",
        )
    if role is not None and role not in mine:
        raise PermissionDeniedError(f"You cannot decide as {role}.", code="role_not_held")
    open_roles = [r for r in ([role] if role is not None else mine) if r not in filled]
    if not open_roles:
        taken = role or ", ".join(mine)
        raise ConflictError(f"The role {taken} has already been filled by another approver.", code="role_filled")
    if open_roles[0] in (roles.DATA_SCIENTIST, roles.ML_ENGINEER) and not models_user_can_change(user).filter(
        pk=request.version.registered_model_id
    ).exists():
        # Practitioner roles approve only within the owning team; approver roles see every team.
        raise PermissionDeniedError(
            f"A {roles.ROLE_LABELS[open_roles[0]].lower()} approves only for their own team's models.", code="not_owning_team"
        )
    return open_roles[0]


def _decide(*, user, request: PromotionRequest, decision: str, comment: str, role: str | None) -> PromotionRequest:
    comment = _require_text(comment, "comment", "A comment")
    req = _lock_request(request)
    decided_role = promotion_decision_check(user=user, request=req, role=role)
    try:
        with transaction.atomic():
            approval = Approval(request=req, user=user, role=decided_role, decision=decision, comment=comment)
            _full_clean(approval, validate_constraints=False)
            approval.save()
    except IntegrityError as exc:  # the row lock makes this unreachable; the constraints are the last line
        raise ConflictError("Another decision was recorded for this role or person.", code="role_filled") from exc
    _audit(user,
        action=f"promotion.{'approve' if decision == Decision.APPROVED else 'reject'}", obj=req, **_model_ctx(req.version),
        changes={"approval": {"before": None, "after": {"role": approval.role, "decision": decision, "comment": comment}}},
    )
    if decision == Decision.REJECTED:
        _check_transition(req, RequestState.REJECTED)
        req.state = RequestState.REJECTED
        req.decided_at = timezone.now()
        req.save(update_fields=["state", "decided_at"])
        _audit(user, action="promotion.rejected", obj=req, changes={"state": {"before": "pending", "after": "rejected"}},
                     **_model_ctx(req.version))
        _emit(WebhookEvent.REQUEST_REJECTED, req.version.registered_model, _request_payload(req))
        _mail_on_commit(
            [req.requested_by], f"Rejected: {req.version} to {req.environment.name}",
            f"Promotion request #{req.pk} was rejected by {user} ({approval.role}): {comment}",
        )
    else:
        _maybe_approved(req, user)
    return req


@transaction.atomic
def promotion_request_approve(*, user, request: PromotionRequest, comment: str, role: str | None = None) -> PromotionRequest:
    return _decide(user=user, request=request, decision=Decision.APPROVED, comment=comment, role=role)


@transaction.atomic
def promotion_request_reject(*, user, request: PromotionRequest, comment: str, role: str | None = None) -> PromotionRequest:
    return _decide(user=user, request=request, decision=Decision.REJECTED, comment=comment, role=role)


def promotion_override_check(*, user, request: PromotionRequest) -> None:
    """May ``user`` decide on the justification overriding a gate of ``request`` now? Raises
    why not; the portal shows the override form exactly when this passes."""
    if not user.is_authenticated or roles.is_read_only(user) or not user.has_perm("governance.approve_override"):
        raise PermissionDeniedError("Only a risk officer decides on a gate override.")
    if request.override_state != OverrideState.PENDING or request.state != RequestState.PENDING:
        raise ConflictError("This request has no justification awaiting a decision.", code="no_pending_override")
    if request.requested_by_id == user.pk:
        raise PermissionDeniedError("Separation of duties: you cannot approve your own justification.", code="separation_of_duties")


@transaction.atomic
def promotion_override_decide(*, user, request: PromotionRequest, approve: bool, comment: str) -> PromotionRequest:
    """A risk officer approves (or refuses) the written justification overriding a gate."""
    comment = _require_text(comment, "comment", "A comment")
    if roles.is_read_only(user) or not user.has_perm("governance.approve_override"):
        raise PermissionDeniedError("Only a risk officer decides on a gate override.")
    req = _lock_request(request)
    promotion_override_check(user=user, request=req)
    before = {"override_state": req.override_state, "state": req.state}
    req.override_state = OverrideState.APPROVED if approve else OverrideState.REJECTED
    req.override_decided_by = user
    req.override_comment = comment
    fields = ["override_state", "override_decided_by", "override_comment"]
    if not approve:
        # The gate stays failed without the override: the request cannot pass.
        _check_transition(req, RequestState.REJECTED)
        req.state = RequestState.REJECTED
        req.decided_at = timezone.now()
        fields += ["state", "decided_at"]
    req.save(update_fields=fields)
    _audit(user, action="promotion.override_decide", obj=req, **_model_ctx(req.version),
                 changes={**audit.diff(before, {"override_state": req.override_state, "state": req.state}),
                          "comment": {"before": None, "after": comment}})
    if approve:
        _maybe_approved(req, user)
    else:
        _emit(WebhookEvent.REQUEST_REJECTED, req.version.registered_model, _request_payload(req))
    return req


@transaction.atomic
def promotion_request_cancel(*, user, request: PromotionRequest, comment: str = "") -> PromotionRequest:
    _require_role(user, PromotionRequest, "change")
    req = _lock_request(request)
    _require_team_member(user, req.version.registered_model)
    _check_transition(req, RequestState.CANCELLED)
    before = req.state
    req.state = RequestState.CANCELLED
    req.closed_at = timezone.now()
    req.save(update_fields=["state", "closed_at"])
    _audit(user, action="promotion.cancel", obj=req, **_model_ctx(req.version),
                 changes={"state": {"before": before, "after": req.state}, "comment": {"before": None, "after": comment}})
    aliases.enforce(model=req.version.registered_model, user=user, reason=f"promotion request #{req.pk} cancelled")
    return req


def _approval_is_stale(req: PromotionRequest, now=None) -> bool:
    max_age = req.environment.approval_max_age_days
    if not max_age or req.decided_at is None:
        return False
    return (now or timezone.now()) - req.decided_at > datetime.timedelta(days=max_age)


@transaction.atomic
def promotion_request_expire(*, request: PromotionRequest, reason: str) -> PromotionRequest:
    req = _lock_request(request)
    _check_transition(req, RequestState.EXPIRED)
    before = req.state
    req.state = RequestState.EXPIRED
    req.closed_at = timezone.now()
    req.save(update_fields=["state", "closed_at"])
    audit.record(action="promotion.expire", obj=req, **_model_ctx(req.version),
                 changes={"state": {"before": before, "after": req.state}, "reason": {"before": None, "after": reason}})
    aliases.enforce(model=req.version.registered_model, user=None, reason=f"promotion request #{req.pk} expired")
    return req


def promotion_request_deploy(*, user, request: PromotionRequest, canary_weight: int | None = None, note: str = "") -> Deployment:
    """Deploy an approved request, re-checking the gates just before.

    An approval older than the policy allows is expired (committed) and the
    deployment refused."""
    _require_role(user, PromotionRequest, "change")
    _require_role(user, Deployment, "add")
    with transaction.atomic():
        req = _lock_request(request)
        stale = req.state == RequestState.APPROVED and _approval_is_stale(req)
    if stale:
        promotion_request_expire(request=req, reason="approval older than the environment policy allows")
        raise ConflictError(
            f"The approval is older than {req.environment.name}'s limit of {req.environment.approval_max_age_days} days; "
            "the request has expired. Open a new request.",
            code="approval_expired",
        )
    with transaction.atomic():
        req = _lock_request(request)
        _require_team_member(user, req.version.registered_model)
        _check_transition(req, RequestState.DEPLOYED)
        _check_promotable(req.version)
        _check_previous_environment(req.version, req.environment)
        evaluation = gates_evaluate(version=req.version, environment=req.environment, request=req)
        _raise_if_blocked(evaluation, "deployment")
        deployment = _deploy(
            user=user, environment=req.environment, version=req.version, request=req, canary_weight=canary_weight, note=note
        )
        req.evidence = {**req.evidence, "deployed": evaluation}
        req.state = RequestState.DEPLOYED
        req.closed_at = timezone.now()
        req.save(update_fields=["evidence", "state", "closed_at"])
        _audit(user, action="promotion.deployed", obj=req, **_model_ctx(req.version),
                     changes={"state": {"before": "approved", "after": "deployed"},
                              "deployment": {"before": None, "after": deployment.pk}})
        return deployment


# --- deployments ----------------------------------------------------------------------


def _validate_splits(splits: list[dict]) -> None:
    total = sum(s["weight"] for s in splits)
    if total != 100 or any(not 1 <= s["weight"] <= 100 for s in splits):
        raise ApplicationError(f"Traffic weights must be 1–100 each and sum to 100 (they sum to {total}).",
                               fields={"splits": ["Weights must sum to 100."]})
    ids = [s["version"].pk for s in splits]
    if len(set(ids)) != len(ids):
        raise ApplicationError("A version may appear only once in a split.", fields={"splits": ["Duplicate version."]})


def _deploy(*, user, environment, version, request=None, canary_weight=None, splits=None, note="") -> Deployment:
    """Replace the active deployment of the model in the environment (locked) with a new one."""
    model = version.registered_model
    current = (
        Deployment.objects.select_for_update(of=("self",)).filter(environment=environment, registered_model=model,
                                                                  status=DeploymentStatus.ACTIVE).first()
    )
    current_splits = list(current.splits.select_related("version")) if current else []
    if splits is None:
        if canary_weight is not None:
            if not current_splits:
                raise ConflictError("A canary needs a version already serving in this environment.", code="no_current_deployment")
            if not 1 <= canary_weight <= 99:
                raise ApplicationError("canary_weight must be 1–99.", fields={"canary_weight": ["Must be 1–99."]})
            incumbent = current_splits[0].version
            if incumbent.pk == version.pk:
                raise ConflictError("This version already serves here.", code="already_serving")
            splits = [{"version": version, "weight": canary_weight}, {"version": incumbent, "weight": 100 - canary_weight}]
        else:
            splits = [{"version": version, "weight": 100}]
    _validate_splits(splits)
    for split in splits:
        if split["version"].registered_model_id != model.pk:
            raise ApplicationError("Every split version must belong to the same model.", fields={"splits": ["Other model."]})
        if version_lifecycle_state(split["version"]) != LifecycleState.ACTIVE:
            raise ConflictError(f"Version {split['version']} is retired or archived.", code="version_not_active")
    if environment.read_only and request is not None:
        # In a read-only environment only the approved version and versions already serving may take traffic.
        serving = {s.version_id for s in current_splits}
        extra = [s["version"] for s in splits if s["version"].pk != version.pk and s["version"].pk not in serving]
        if extra:
            raise ConflictError(f"{environment.name} is read-only: {extra[0]} is neither approved nor serving.",
                                code="read_only_environment")
    now = timezone.now()
    if current is not None:
        current.status = DeploymentStatus.SUPERSEDED
        current.ended_at = now
        current.save(update_fields=["status", "ended_at"])
    # The shorter of the environment's and the model's risk tier's review intervals.
    interval = effective_policy(environment, model).review_interval_days
    review_by = (now + datetime.timedelta(days=interval)).date() if interval else None
    deployment = Deployment(
        environment=environment, registered_model=model, deployed_by=user, promotion_request=request,
        previous=current, note=note, created_at=now, review_by=review_by,
    )
    _full_clean(deployment, validate_constraints=False)
    deployment.save()
    DeploymentSplit.objects.bulk_create(
        [DeploymentSplit(deployment=deployment, version=s["version"], weight=s["weight"]) for s in splits]
    )
    _audit(user,
        action="deployment.create", obj=deployment, **_model_ctx(model),
        changes={
            "environment": {"before": None, "after": environment.slug},
            "splits": {"before": [{"version": s.version.version, "weight": s.weight} for s in current_splits],
                       "after": [{"version": s["version"].version, "weight": s["weight"]} for s in splits]},
            "promotion_request": {"before": None, "after": request.pk if request else None},
            "superseded": {"before": None, "after": current.pk if current else None},
        },
    )
    _emit(WebhookEvent.DEPLOYED, model, _deployment_payload(deployment, splits))
    aliases.enforce(model=model, user=user, reason=f"deployment #{deployment.pk} to {environment.name}")
    return deployment


@transaction.atomic
def deployment_create_direct(*, user, version: ModelVersion, environment: Environment,
                             splits: list[dict] | None = None, note: str = "") -> Deployment:
    """Deploy without a promotion request, where the policy lets the user's role do so (Dev)."""
    _require_role(user, Deployment, "add")
    version = ModelVersion.objects.select_related("registered_model__team").get(pk=version.pk)
    if environment.read_only:
        raise ConflictError(f"{environment.name} is read-only: deploy through an approved promotion request.",
                            code="read_only_environment")
    allowed_roles = environment.direct_deploy_roles
    if not (roles.has_role(user, *allowed_roles) or roles.has_role(user, roles.ADMIN) or user.is_superuser):
        raise PermissionDeniedError(
            f"{environment.name} policy: direct deployment is for {', '.join(allowed_roles) or 'nobody'}; "
            "open a promotion request.", code="direct_deploy_not_allowed",
        )
    _require_team_member(user, version.registered_model)
    _check_promotable(version)
    _check_previous_environment(version, environment)
    evaluation = gates_evaluate(version=version, environment=environment)
    _raise_if_blocked(evaluation, "deployment")
    return _deploy(user=user, environment=environment, version=version, splits=splits, note=note)


@transaction.atomic
def deployment_rollback(*, user, deployment: Deployment, note: str = "") -> Deployment:
    """Return the model in this environment to the deployment that preceded the active one.

    Allowed in read-only environments: it restores a state that was itself approved."""
    _require_role(user, Deployment, "rollback", "Your role may not roll deployments back; an ML engineer of the owning team can.")
    current = Deployment.objects.select_for_update(of=("self",)).select_related(
        "environment", "registered_model__team", "previous").get(pk=deployment.pk)
    _require_team_member(user, current.registered_model)
    if current.status != DeploymentStatus.ACTIVE:
        raise ConflictError(f"Deployment #{current.pk} is {current.status}; only the active deployment can be rolled back.",
                            code="not_active")
    target = current.previous
    if target is None:
        raise ConflictError("There is no previous deployment to roll back to.", code="nothing_to_roll_back_to")
    target_splits = list(target.splits.select_related("version"))
    for split in target_splits:
        if version_lifecycle_state(split.version) != LifecycleState.ACTIVE:
            raise ConflictError(f"Cannot roll back: version {split.version} is retired or archived.", code="version_not_active")
    now = timezone.now()
    current.status = DeploymentStatus.ROLLED_BACK
    current.ended_at = now
    current.save(update_fields=["status", "ended_at"])
    env = current.environment
    restored = Deployment(
        environment=env, registered_model=current.registered_model, deployed_by=user,
        promotion_request=target.promotion_request, previous=target.previous,
        note=note or f"Rollback of #{current.pk} to #{target.pk}", created_at=now,
        review_by=target.review_by,
    )
    _full_clean(restored, validate_constraints=False)
    restored.save()
    DeploymentSplit.objects.bulk_create(
        [DeploymentSplit(deployment=restored, version=s.version, weight=s.weight) for s in target_splits]
    )
    _audit(user,
        action="deployment.rollback", obj=restored, **_model_ctx(current.registered_model),
        changes={"rolled_back": {"before": current.pk, "after": None}, "restored_from": {"before": None, "after": target.pk},
                 "splits": {"before": [{"version": s.version.version, "weight": s.weight} for s in current.splits.select_related("version")],
                            "after": [{"version": s.version.version, "weight": s.weight} for s in target_splits]}},
    )
    _emit(WebhookEvent.ROLLED_BACK, current.registered_model,
          {**_deployment_payload(restored, [{"version": s.version, "weight": s.weight} for s in target_splits]),
           "rolled_back_deployment": current.pk})
    aliases.enforce(model=current.registered_model, user=user, reason=f"deployment #{current.pk} rolled back")
    return restored


@transaction.atomic
def deployment_retire(*, user, deployment: Deployment, note: str = "") -> Deployment:
    """Stop serving the model in this environment (no successor)."""
    _require_role(user, Deployment, "add")
    current = Deployment.objects.select_for_update(of=("self",)).select_related(
        "environment", "registered_model__team").get(pk=deployment.pk)
    _require_team_member(user, current.registered_model)
    if current.status != DeploymentStatus.ACTIVE:
        raise ConflictError(f"Deployment #{current.pk} is {current.status}, not active.", code="not_active")
    if current.environment.read_only and not roles.has_role(user, roles.ML_ENGINEER, roles.ADMIN):
        raise PermissionDeniedError(f"{current.environment.name} is read-only: an ML engineer retires deployments there.")
    current.status = DeploymentStatus.RETIRED
    current.ended_at = timezone.now()
    current.note = "\n".join(filter(None, [current.note, note]))
    current.save(update_fields=["status", "ended_at", "note"])
    _audit(user, action="deployment.retire", obj=current, **_model_ctx(current.registered_model),
                 changes={"status": {"before": "active", "after": "retired"}, "note": {"before": None, "after": note}})
    aliases.enforce(model=current.registered_model, user=user, reason=f"deployment #{current.pk} retired")
    return current


@transaction.atomic
def deployment_mark_reviewed(*, user, deployment: Deployment, comment: str) -> Deployment:
    """Record the periodic review (revalidation) and set the next due date."""
    comment = _require_text(comment, "comment", "A review comment")
    if roles.is_read_only(user) or not user.has_perm("governance.review_deployment"):
        raise PermissionDeniedError("Periodic reviews are recorded by a risk officer.")
    current = Deployment.objects.select_for_update(of=("self",)).select_related("environment", "registered_model__team").get(pk=deployment.pk)
    if current.status != DeploymentStatus.ACTIVE:
        raise ConflictError("Only an active deployment is reviewed.", code="not_active")
    before = {"review_by": current.review_by, "reviewed_at": current.reviewed_at}
    policy = effective_policy(current.environment, current.registered_model)
    model_risk = _model_risk_checks(current, policy)
    failing = [c for c in model_risk if not c["passed"]]
    if failing:
        raise ConflictError(
            "The review cannot be recorded while model-risk requirements fail: "
            + "; ".join(f"v{c['version']} {c['label']}: {c['message']}" for c in failing),
            code="model_risk_gates_failed", fields={"gates": [f"{c['kind']}: {c['message']}" for c in failing]},
        )
    now = timezone.now()
    current.reviewed_at = now
    if policy.review_interval_days:
        current.review_by = (now + datetime.timedelta(days=policy.review_interval_days)).date()
    current.save(update_fields=["reviewed_at", "review_by"])
    _audit(user, action="deployment.review", obj=current, **_model_ctx(current.registered_model),
                 changes={**audit.diff(before, {"review_by": current.review_by, "reviewed_at": current.reviewed_at}),
                          "comment": {"before": None, "after": comment},
                          "model_risk_gates": {"before": None, "after": model_risk}})
    return current


def _model_risk_checks(deployment: Deployment, policy) -> list[dict]:
    """The periodic review reads the model-risk gates (tier policy: current approved validation,
    no open findings; risk assessment) for every version serving in the deployment."""
    checks = []
    gates = [g for g in policy.gates if g.get("source", "environment") != "environment"]
    for split in deployment.splits.select_related("version"):
        for gate in gates:
            params = {**(gate.get("params") or {}), "_context": {"environment": deployment.environment.slug}}
            result = evaluate_gate(gate["kind"], split.version, params)
            gate_kind = GATE_KINDS.get(gate["kind"])
            checks.append({"version": split.version.version, "kind": gate["kind"],
                           "label": gate_kind.label if gate_kind else gate["kind"],
                           "passed": result.passed, "message": result.message})
    return checks


# --- version lifecycle ----------------------------------------------------------------


@transaction.atomic
def version_set_lifecycle(*, user, version: ModelVersion, state: str, reason: str) -> VersionLifecycle:
    _require_role(user, VersionLifecycle, "change")
    if state not in LifecycleState.values:
        raise ApplicationError("Unknown lifecycle state.", fields={"state": [f"One of {', '.join(LifecycleState.values)}."]})
    reason = _require_text(reason, "reason", "A reason")
    version = ModelVersion.objects.select_related("registered_model__team").get(pk=version.pk)
    _require_team_member(user, version.registered_model)
    lifecycle, _ = VersionLifecycle.objects.select_for_update().get_or_create(version=version)
    before = lifecycle.state
    if before == LifecycleState.ARCHIVED and state != LifecycleState.ARCHIVED:
        raise ConflictError("An archived version stays archived.", code="archived")
    if state != LifecycleState.ACTIVE:
        serving = DeploymentSplit.objects.filter(version=version, deployment__status=DeploymentStatus.ACTIVE).select_related(
            "deployment__environment").first()
        if serving is not None:
            raise ConflictError(
                f"Version {version} still serves in {serving.deployment.environment.name}; roll back or retire that deployment first.",
                code="version_serving",
            )
    lifecycle.state, lifecycle.reason, lifecycle.changed_by, lifecycle.changed_at = state, reason, user, timezone.now()
    _full_clean(lifecycle)
    lifecycle.save()
    if state != LifecycleState.ACTIVE:
        # Open requests for a version that can no longer be promoted are cancelled with it.
        for req in PromotionRequest.objects.filter(version=version, state__in=OPEN_REQUEST_STATES):
            req.state, req.closed_at = RequestState.CANCELLED, timezone.now()
            req.save(update_fields=["state", "closed_at"])
            _audit(user, action="promotion.cancel", obj=req, **_model_ctx(version),
                         changes={"state": {"before": "open", "after": "cancelled"}, "reason": {"before": None, "after": f"version {state}"}})
    _audit(user, action=f"version.{state}" if state != LifecycleState.ACTIVE else "version.reactivate", obj=version,
                 **_model_ctx(version), changes={"lifecycle": {"before": before, "after": state}, "reason": {"before": None, "after": reason}})
    if state != LifecycleState.ACTIVE:  # its approved requests were cancelled above
        aliases.enforce(model=version.registered_model, user=user, reason=f"version {version.version} {state}")
    return lifecycle


# --- CI test results ------------------------------------------------------------------


@transaction.atomic
def ci_test_result_post(*, user, version: ModelVersion, kind: str, passed: bool, metrics: dict | None = None,
                        name: str = "", details_url: str = "", ci_run_id: str = "") -> CITestResult:
    _require_role(user, CITestResult, "add")
    if kind not in TestKind.values:
        raise ApplicationError("Unknown test kind.", fields={"kind": [f"One of {', '.join(TestKind.values)}."]})
    metrics = metrics or {}
    bad = [k for k, v in metrics.items() if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        raise ApplicationError("Metrics must be numbers.", fields={"metrics": [f"Not a number: {', '.join(bad)}."]})
    version = ModelVersion.objects.select_related("registered_model__team").get(pk=version.pk)
    _require_team_member(user, version.registered_model)
    result = CITestResult(version=version, kind=kind, passed=passed, metrics=metrics, name=name,
                          details_url=details_url, ci_run_id=ci_run_id, posted_by=user)
    _full_clean(result)
    result.save()
    _audit(user, action="ci_result.post", obj=result, **_model_ctx(version),
                 changes={"kind": {"before": None, "after": kind}, "passed": {"before": None, "after": passed},
                          "metrics": {"before": None, "after": metrics}})
    return result


# --- webhooks -------------------------------------------------------------------------


def _request_payload(req: PromotionRequest) -> dict:
    return {
        "request_id": req.pk, "state": req.state, "environment": req.environment.slug,
        "model": req.version.registered_model.name, "version": req.version.version, "version_id": req.version_id,
        "requested_by": req.requested_by.get_username(),
    }


def _deployment_payload(deployment: Deployment, splits: list[dict]) -> dict:
    return {
        "deployment_id": deployment.pk, "environment": deployment.environment.slug,
        "model": deployment.registered_model.name,
        "splits": [{"version": s["version"].version, "version_id": s["version"].pk, "weight": s["weight"]} for s in splits],
        "promotion_request_id": deployment.promotion_request_id,
    }


def _subscribed_hooks(model: RegisteredModel | None) -> list[tuple[int, list]]:
    """(id, events) of the active webhooks a model's events go to: global ones and its team's."""
    owners = Q(team__isnull=True) if model is None else Q(team__isnull=True) | Q(team_id=model.team_id)
    return list(Webhook.objects.filter(owners, is_active=True).values_list("pk", "events"))


def _emit(event: str, model: RegisteredModel | None, data: dict) -> list[WebhookDelivery]:
    """Write one outbox row per subscribed webhook, in the caller's transaction; send on commit."""
    payload = {"event": event, "occurred_at": timezone.now().isoformat(), "data": data}
    deliveries = [
        WebhookDelivery(webhook_id=hook_id, event=event, payload=payload)
        for hook_id, events in _subscribed_hooks(model)
        if not events or event in events
    ]
    if not deliveries:
        return []
    created = WebhookDelivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in created]

    def dispatch():
        from governance.tasks import deliver_webhook

        for pk in ids:
            try:
                deliver_webhook.delay(pk)
            except Exception:  # broker down: the outbox row stays due and the beat sweeper sends it
                logger.warning("webhook delivery %s not dispatched; the sweeper will send it", pk, exc_info=True)

    transaction.on_commit(dispatch)
    return created


def webhook_emit(*, event: str, model: RegisteredModel | None, data: dict) -> list[WebhookDelivery]:
    """For other apps (e.g. the registry's "version registered"): call inside your transaction."""
    if event not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event {event!r}")
    return _emit(event, model, data)


def _require_admin(user) -> None:
    if not (user.is_superuser or roles.has_role(user, roles.ADMIN)):
        raise PermissionDeniedError("Only administrators manage webhooks.")


def _validate_events(events) -> list[str]:
    if not isinstance(events, list) or any(e not in WebhookEvent.values for e in events):
        raise ApplicationError("Unknown webhook events.", fields={"events": [f"Known: {', '.join(WebhookEvent.values)}."]})
    return events


def _check_webhook_url(url: str) -> None:
    from governance.webhooks import UnsafeURLError, resolve_checked

    try:
        resolve_checked(url)
    except UnsafeURLError as exc:
        raise ApplicationError(str(exc), code="unsafe_url", fields={"url": [str(exc)]}) from exc


@transaction.atomic
def webhook_create(*, user, name: str, url: str, events: list[str], team=None, secret: str = "") -> Webhook:
    _require_admin(user)
    _check_webhook_url(url)
    hook = Webhook(name=name, url=url, events=_validate_events(events), team=team,
                   secret=secret or secrets.token_urlsafe(32), created_by=user)
    _full_clean(hook)
    hook.save()
    _audit(user, action="webhook.create", obj=hook, changes={"url": {"before": None, "after": url},
                                                              "events": {"before": None, "after": events}})
    return hook


@transaction.atomic
def webhook_update(*, user, webhook: Webhook, data: dict) -> Webhook:
    _require_admin(user)
    hook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    fields = ("name", "url", "events", "is_active", "team")
    before = {f: getattr(hook, f) for f in fields}
    for field, value in data.items():
        if field == "events":
            value = _validate_events(value)
        if field == "url":
            _check_webhook_url(value)
        setattr(hook, field, value)
    _full_clean(hook)
    hook.save()
    after = {f: getattr(hook, f) for f in fields}
    _audit(user, action="webhook.update", obj=hook, changes=audit.diff(
        {k: str(v) if k == "team" else v for k, v in before.items()}, {k: str(v) if k == "team" else v for k, v in after.items()}))
    return hook


@transaction.atomic
def webhook_delete(*, user, webhook: Webhook) -> None:
    _require_admin(user)
    _audit(user, action="webhook.delete", obj=webhook, changes={"url": {"before": webhook.url, "after": None}})
    webhook.delete()


@transaction.atomic
def webhook_allow_address(*, user, network: str, note: str = "") -> WebhookAllowedAddress:
    _require_admin(user)
    entry = WebhookAllowedAddress(network=network.strip(), note=note)
    _full_clean(entry)
    entry.save()
    _audit(user, action="webhook.allow_address", obj=entry, changes={"network": {"before": None, "after": entry.network}})
    return entry


@transaction.atomic
def webhook_disallow_address(*, user, entry: WebhookAllowedAddress) -> None:
    _require_admin(user)
    _audit(user, action="webhook.disallow_address", obj=entry, changes={"network": {"before": entry.network, "after": None}})
    entry.delete()


@transaction.atomic
def webhook_redeliver(*, user, delivery: WebhookDelivery) -> WebhookDelivery:
    _require_admin(user)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status == DeliveryStatus.SUCCEEDED:
        raise ConflictError("This delivery already succeeded.", code="already_delivered")
    delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    _audit(user, action="webhook.redeliver", obj=delivery, changes={"status": {"before": "failed", "after": "pending"}})
    pk = delivery.pk

    def dispatch():
        from governance.tasks import deliver_webhook

        try:
            deliver_webhook.delay(pk)
        except Exception:  # broker down: the sweeper sends it
            logger.warning("webhook delivery %s not dispatched; the sweeper will send it", pk, exc_info=True)

    transaction.on_commit(dispatch)
    return delivery


# Backoff between attempts: 30 s, 2 min, 8 min, 32 min, ~2 h, then give up.
WEBHOOK_MAX_ATTEMPTS = 6
LEASE_SECONDS = 60


def webhook_backoff_seconds(attempts: int) -> int:
    return 30 * 4 ** max(attempts - 1, 0)


def webhook_delivery_attempt(*, delivery_id: int) -> str:
    """Send one delivery if it is due. A lease (``next_attempt_at`` pushed ahead by
    compare-and-swap) stops the retry task and the sweeper from sending it twice."""
    from governance.webhooks import send

    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now
    ).update(next_attempt_at=now + datetime.timedelta(seconds=LEASE_SECONDS))
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    result = send(url=delivery.webhook.url, secret=delivery.webhook.secret, event=delivery.event,
                  delivery_id=delivery.pk, payload=delivery.payload)
    delivery.attempts += 1
    delivery.response_status = result.status
    if result.ok:
        delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.SUCCEEDED, timezone.now(), ""
    elif delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.last_error = DeliveryStatus.FAILED, result.error
    else:
        delivery.status, delivery.last_error = DeliveryStatus.RETRYING, result.error
        delivery.next_attempt_at = timezone.now() + datetime.timedelta(seconds=webhook_backoff_seconds(delivery.attempts))
    delivery.save(update_fields=["attempts", "response_status", "status", "delivered_at", "last_error", "next_attempt_at"])
    return delivery.status


def webhook_due_delivery_ids(limit: int = 100) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
                                       next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )


# --- periodic governance --------------------------------------------------------------


def expire_stale_approvals(*, now=None) -> int:
    """Approved-but-not-deployed requests older than their environment allows become expired."""
    now = now or timezone.now()
    count = 0
    for req in PromotionRequest.objects.filter(state=RequestState.APPROVED).select_related("environment"):
        if _approval_is_stale(req, now):
            try:
                promotion_request_expire(request=req, reason="approval older than the environment policy allows")
                count += 1
            except ConflictError:
                pass  # moved on meanwhile (deployed or cancelled)
    return count


def send_governance_alerts(*, today=None) -> int:
    """E-mail each overdue review to the owning team and the risk officers."""
    from governance.selectors import governance_alerts

    alerts = governance_alerts(today=today)
    risk_officers = list(_users_with_roles([roles.RISK_OFFICER]))
    sent = 0
    for alert in alerts:
        team_members = get_user_model().objects.filter(groups__team__slug=alert["team"], is_active=True).exclude(email="")
        recipients = sorted({u.email for u in [*team_members, *risk_officers]})
        if recipients:
            send_mail(f"[Modelgate] Governance alert: {alert['title']}", alert["message"], settings.DEFAULT_FROM_EMAIL,
                      recipients, fail_silently=True)
            sent += 1
    return sent


def get_or_404(queryset, **lookup):
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise NotFoundError("Not found.")
    return obj

