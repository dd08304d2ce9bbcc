"""Every model-risk write: inventory and tier, tier policies, validations, findings,
documentation. Rules are checked here, so REST, portal, admin and commands get the
same answer; each service runs in one transaction and records an audit event.

Independence (SR 11-7 "effective challenge"): a model validator may validate, raise
and close findings only for models of teams they are not in — ``require_independent``.
"""

from __future__ import annotations

import datetime
import hashlib

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from guardian.core import ObjectPermissionChecker

from governance.choices import DeploymentStatus, TestKind, WebhookEvent
from governance.modelrisk import extensions, questionnaire
from governance.modelrisk.choices import (
    APPROVING_OUTCOMES,
    FINDING_TRANSITIONS,
    UNRESOLVED_FINDING_STATES,
    ChecklistItem,
    ChecklistResult,
    FindingState,
    ModelSource,
    Severity,
    Tier,
    ValidationOutcome,
    ValidationState,
)
from governance.modelrisk.models import (
    Finding,
    InventoryRecord,
    ModelDocument,
    TierPolicy,
    TierRequirement,
    Validation,
)
from governance.models import CITestResult, DeploymentSplit
from governance.roles import MODEL_VALIDATOR
from governance.services import (
    _audit,
    _emit,
    _full_clean,
    _mail_on_commit,
    _model_ctx,
    _require_text,
    _users_with_roles,
    models_user_can_change,
)
from modelgate.core import audit, roles
from modelgate.core.errors import ApplicationError, ConflictError, PermissionDeniedError
from registry.models import ModelVersion, RegisteredModel

# --- who may do what --------------------------------------------------------------------


def in_owning_team(user, model: RegisteredModel) -> bool:
    """Holds any object permission on the model, through a team group or directly (guardian,
    object-level only: global permissions do not make anyone a team member)."""
    if not user.is_authenticated:
        return False
    return bool(ObjectPermissionChecker(user).get_perms(model))


def require_independent(user, model: RegisteredModel) -> None:
    """A model validator who is not in the owning team (checked on every validator action)."""
    if not user.is_authenticated or roles.is_read_only(user) or not roles.has_role(user, MODEL_VALIDATOR):
        raise PermissionDeniedError("Only a model validator validates models and decides on findings.",
                                    code="not_validator")
    if in_owning_team(user, model):
        raise PermissionDeniedError(
            f"Independence: you work in the team that owns {model.name}, so you may not validate it or decide on its "
            "findings.", code="validator_not_independent",
        )


def _require_owner_or_risk(user, model: RegisteredModel) -> None:
    """Describe and assess a model: its owning team, or a risk officer (who sees every team)."""
    if roles.is_read_only(user):
        raise PermissionDeniedError("Auditors read the inventory and change nothing.")
    if roles.has_role(user, roles.RISK_OFFICER):
        return
    if not models_user_can_change(user).filter(pk=model.pk).exists():
        raise PermissionDeniedError("Only the owning team or a risk officer may do this for this model.",
                                    code="not_owning_team")


def _lock_record(model: RegisteredModel) -> InventoryRecord:
    InventoryRecord.objects.get_or_create(registered_model=model)
    return InventoryRecord.objects.select_for_update(of=("self",)).select_related("registered_model__team").get(
        registered_model=model)


# --- inventory and tier ------------------------------------------------------------------

RECORD_FIELDS = ("purpose", "business_use", "owner", "accountable_executive", "output_users", "source", "vendor")


def _snapshot(record: InventoryRecord, fields) -> dict:
    return {f: (getattr(record, f).get_username() if f == "owner" and record.owner else getattr(record, f))
            for f in fields}


@transaction.atomic
def inventory_record_update(*, user, model: RegisteredModel, data: dict) -> InventoryRecord:
    _require_owner_or_risk(user, model)
    record = _lock_record(model)
    before = _snapshot(record, RECORD_FIELDS)
    for field, value in data.items():
        if field not in RECORD_FIELDS:
            raise ApplicationError(f"{field} is not an inventory field.", fields={field: ["Not editable."]})
        setattr(record, field, value)
    if record.source == ModelSource.VENDOR and not record.vendor.strip():
        raise ApplicationError("A vendor model names its vendor.", fields={"vendor": ["Name the vendor."]})
    record.updated_at = timezone.now()
    _full_clean(record)
    record.save()
    _audit(user, action="modelrisk.inventory_update", obj=record, **_model_ctx(model),
           changes=audit.diff(before, _snapshot(record, RECORD_FIELDS)))
    return record


def _effective_tier(record: InventoryRecord) -> int | None:
    return record.tier_override or record.computed_tier


@transaction.atomic
def inventory_assess(*, user, model: RegisteredModel, answers: dict) -> InventoryRecord:
    """Answer the risk-tier questionnaire: the answers and the computed tier are stored and audited."""
    _require_owner_or_risk(user, model)
    errors = questionnaire.validate_answers(answers)
    if errors:
        first, messages = next(iter(errors.items()))
        raise ApplicationError(f"{first}: {messages[0]}", fields=errors)
    record = _lock_record(model)
    fields = ("answers", "computed_tier", "tier", "eu_ai_act_category")
    before = _snapshot(record, fields)
    record.answers = {key: answers[key] for key in questionnaire.QUESTIONS}
    record.computed_tier = questionnaire.compute_tier(record.answers)
    record.eu_ai_act_category = record.answers["eu_ai_act_category"]
    record.tier = _effective_tier(record)
    record.assessed_by, record.assessed_at = user, timezone.now()
    record.updated_at = record.assessed_at
    _full_clean(record)
    record.save()
    _audit(user, action="modelrisk.assess", obj=record, **_model_ctx(model),
           changes=audit.diff(before, _snapshot(record, fields)))
    return record


@transaction.atomic
def inventory_override_tier(*, user, model: RegisteredModel, tier: int | None, reason: str) -> InventoryRecord:
    """A risk officer sets (or, with ``tier=None``, lifts) an override of the computed tier, with a reason."""
    if roles.is_read_only(user) or not user.has_perm("governance.override_tier"):
        raise PermissionDeniedError("Only a risk officer overrides a risk tier.", code="not_risk_officer")
    reason = _require_text(reason, "reason", "A written reason")
    if tier is not None and tier not in Tier.values:
        raise ApplicationError("Unknown tier.", fields={"tier": [f"One of {', '.join(map(str, Tier.values))}."]})
    record = _lock_record(model)
    if record.computed_tier is None:
        raise ConflictError("Assess the model (questionnaire) before overriding its tier.", code="not_assessed")
    fields = ("tier_override", "tier", "override_reason")
    before = _snapshot(record, fields)
    record.tier_override = tier
    record.override_reason = reason
    record.override_by, record.override_at = user, timezone.now()
    record.tier = _effective_tier(record)
    record.updated_at = record.override_at
    record.save()
    _audit(user, action="modelrisk.override_tier", obj=record, **_model_ctx(model),
           changes=audit.diff(before, _snapshot(record, fields)))
    return record


# --- tier policies (data, administrators) ------------------------------------------------------

REQUIREMENT_FIELDS = ("extra_approver_roles", "gates", "required_monitoring_rules", "review_interval_days")
TIER_POLICY_FIELDS = ("description", "revalidation_interval_days", "checklist")


def _require_admin(user) -> None:
    if not (user.is_superuser or roles.has_role(user, roles.ADMIN)):
        raise PermissionDeniedError("Only administrators edit tier policies.")


def _check_gate_kinds(gates) -> None:
    from governance.gates import GATE_KINDS

    for gate in gates if isinstance(gates, list) else []:
        if isinstance(gate, dict) and gate.get("kind") not in GATE_KINDS:
            raise ApplicationError(f"Unknown gate kind {gate.get('kind')!r}.",
                                   fields={"gates": [f"Known kinds: {', '.join(sorted(GATE_KINDS))}."]})


@transaction.atomic
def tier_policy_update(*, user, policy: TierPolicy, data: dict) -> TierPolicy:
    _require_admin(user)
    policy = TierPolicy.objects.select_for_update().get(pk=policy.pk)
    before = {f: getattr(policy, f) for f in TIER_POLICY_FIELDS}
    for field, value in data.items():
        if field not in TIER_POLICY_FIELDS:
            raise ApplicationError(f"{field} is not a tier policy field.", fields={field: ["Not editable."]})
        setattr(policy, field, value)
    policy.updated_at = timezone.now()
    _full_clean(policy)
    policy.save()
    _audit(user, action="modelrisk.tier_policy_update", obj=policy,
           changes=audit.diff(before, {f: getattr(policy, f) for f in TIER_POLICY_FIELDS}))
    return policy


@transaction.atomic
def tier_requirement_set(*, user, policy: TierPolicy, environment, data: dict) -> TierRequirement:
    """Create or change what a tier adds to an environment's policy (audited like environment policies)."""
    _require_admin(user)
    requirement, created = TierRequirement.objects.select_for_update().get_or_create(policy=policy, environment=environment)
    before = {f: (None if created else getattr(requirement, f)) for f in REQUIREMENT_FIELDS}
    for field, value in data.items():
        if field not in REQUIREMENT_FIELDS:
            raise ApplicationError(f"{field} is not a tier requirement field.", fields={field: ["Not editable."]})
        setattr(requirement, field, value)
    _check_gate_kinds(requirement.gates)
    requirement.updated_at = timezone.now()
    _full_clean(requirement, validate_constraints=False)
    requirement.save()
    _audit(user, action="modelrisk.tier_requirement_set", obj=requirement,
           changes=audit.diff(before, {f: getattr(requirement, f) for f in REQUIREMENT_FIELDS}))
    return requirement


# --- validations -------------------------------------------------------------------------------


def _lock_validation(validation: Validation) -> Validation:
    return (Validation.objects.select_for_update(of=("self",))
            .select_related("version__registered_model__team", "validator").get(pk=validation.pk))


def checklist_for_tier(tier: int) -> list[str]:
    items = TierPolicy.objects.filter(tier=tier).values_list("checklist", flat=True).first()
    return list(items) if items else list(ChecklistItem.values)


@transaction.atomic
def validation_start(*, user, version: ModelVersion, scope: str) -> Validation:
    version = ModelVersion.objects.select_related("registered_model__team").get(pk=version.pk)
    model = version.registered_model
    require_independent(user, model)
    scope = _require_text(scope, "scope", "The validation scope")
    record = InventoryRecord.objects.filter(registered_model=model).first()
    if record is None or record.tier is None:
        raise ConflictError("Assess the model's risk tier before validating it.", code="not_assessed")
    checklist = {item: {"result": ChecklistResult.PENDING, "note": ""} for item in checklist_for_tier(record.tier)}
    validation = Validation(version=version, validator=user, tier=record.tier, scope=scope, checklist=checklist)
    _full_clean(validation)
    validation.save()
    _audit(user, action="modelrisk.validation_start", obj=validation, **_model_ctx(model),
           changes={"scope": {"before": None, "after": scope}, "tier": {"before": None, "after": record.tier}})
    return validation


def _require_own_open_validation(user, validation: Validation) -> None:
    require_independent(user, validation.version.registered_model)
    if validation.validator_id != user.pk:
        raise PermissionDeniedError("Only the validator who started this validation may change or sign it.",
                                    code="not_the_validator")
    if validation.state != ValidationState.IN_PROGRESS:
        raise ConflictError("A signed validation is final; start a new validation.", code="validation_signed")


def _clean_checklist(current: dict, update: dict) -> dict:
    if not isinstance(update, dict):
        raise ApplicationError("checklist: an object item → {result, note}.", fields={"checklist": ["An object."]})
    merged = {k: dict(v) for k, v in current.items()}
    for item, value in update.items():
        if item not in merged:
            raise ApplicationError(f"{item} is not on this validation's checklist.",
                                   fields={"checklist": [f"Items: {', '.join(merged)}."]})
        if not isinstance(value, dict) or value.get("result", merged[item]["result"]) not in ChecklistResult.values:
            raise ApplicationError(f"{item}: result must be one of {', '.join(ChecklistResult.values)}.",
                                   fields={"checklist": [f"{item}: unknown result."]})
        merged[item] = {"result": value.get("result", merged[item]["result"]),
                        "note": str(value.get("note", merged[item]["note"]))[:4000]}
    return merged


@transaction.atomic
def validation_update(*, user, validation: Validation, scope: str | None = None, checklist: dict | None = None,
                      summary: str | None = None) -> Validation:
    validation = _lock_validation(validation)
    _require_own_open_validation(user, validation)
    before = {"scope": validation.scope, "checklist": validation.checklist, "summary": validation.summary}
    if scope is not None:
        validation.scope = _require_text(scope, "scope", "The validation scope")
    if checklist is not None:
        validation.checklist = _clean_checklist(validation.checklist, checklist)
    if summary is not None:
        validation.summary = summary
    validation.save(update_fields=["scope", "checklist", "summary"])
    _audit(user, action="modelrisk.validation_update", obj=validation, **_model_ctx(validation.version),
           changes=audit.diff(before, {"scope": validation.scope, "checklist": validation.checklist,
                                       "summary": validation.summary}))
    return validation


def _freeze_evidence(version: ModelVersion) -> dict:
    """What the validation relied on, as it stood when signed: the latest CI result of each
    kind, what other apps contribute (monitoring's reports) and the findings on the version."""
    latest = {}
    for result in CITestResult.objects.filter(version=version).order_by("-created_at", "-id"):
        latest.setdefault(result.kind, result)
    evidence = {
        "frozen_at": timezone.now().isoformat(),
        "ci_results": {kind: {"result_id": r.pk, "passed": r.passed, "metrics": r.metrics, "ci_run_id": r.ci_run_id,
                              "created_at": r.created_at.isoformat()}
                       for kind, r in latest.items() if kind in TestKind.values},
        "findings": [{"id": f.pk, "title": f.title, "severity": f.severity, "state": f.state}
                     for f in Finding.objects.filter(versions=version).order_by("id")],
    }
    for name, source in extensions.EVIDENCE_SOURCES.items():
        evidence[name] = source(version)
    return evidence


@transaction.atomic
def validation_sign(*, user, validation: Validation, outcome: str, summary: str = "", conditions: str = "") -> Validation:
    """Sign the outcome: evidence is frozen, the revalidation date set from the tier policy."""
    validation = _lock_validation(validation)
    _require_own_open_validation(user, validation)
    if outcome not in ValidationOutcome.values or not outcome:
        raise ApplicationError("Unknown outcome.", fields={"outcome": [
            f"One of {', '.join(v for v in ValidationOutcome.values if v)}."]})
    pending = [item for item, value in validation.checklist.items() if value["result"] == ChecklistResult.PENDING]
    if pending:
        raise ConflictError(f"Assess every checklist item before signing; not assessed: {', '.join(pending)}.",
                            code="checklist_incomplete", fields={"checklist": [f"Not assessed: {', '.join(pending)}."]})
    failing = [item for item, value in validation.checklist.items() if value["result"] == ChecklistResult.UNSATISFACTORY]
    if outcome in APPROVING_OUTCOMES and failing:
        raise ConflictError(f"An unsatisfactory item cannot be approved: {', '.join(failing)}.",
                            code="checklist_unsatisfactory", fields={"outcome": ["Unsatisfactory items."]})
    conditions = conditions.strip()
    if outcome == ValidationOutcome.APPROVED_WITH_CONDITIONS and not conditions:
        raise ApplicationError("State the conditions of the approval.", fields={"conditions": ["Required."]})
    now = timezone.now()
    interval = TierPolicy.objects.filter(tier=validation.tier).values_list("revalidation_interval_days", flat=True).first()
    validation.outcome, validation.conditions = outcome, conditions
    validation.summary = summary or validation.summary
    validation.evidence = _freeze_evidence(validation.version)
    validation.state, validation.signed_at = ValidationState.SIGNED, now
    validation.valid_until = (now + datetime.timedelta(days=interval)).date() if interval else None
    validation.save()
    model = validation.version.registered_model
    _audit(user, action="modelrisk.validation_sign", obj=validation, **_model_ctx(model), changes={
        "state": {"before": ValidationState.IN_PROGRESS, "after": ValidationState.SIGNED},
        "outcome": {"before": None, "after": outcome}, "conditions": {"before": None, "after": conditions},
        "valid_until": {"before": None, "after": validation.valid_until},
        "evidence_sha256": {"before": None, "after": _sha256_json(validation.evidence)},
    })
    _emit(WebhookEvent.VALIDATION_SIGNED, model, {
        "validation_id": validation.pk, "model": model.name, "version": validation.version.version,
        "outcome": outcome, "validator": user.get_username(),
        "valid_until": validation.valid_until.isoformat() if validation.valid_until else None,
    })
    return validation


def _sha256_json(value) -> str:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return hashlib.sha256(json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder).encode()).hexdigest()


# --- findings ----------------------------------------------------------------------------------


def _lock_finding(finding: Finding) -> Finding:
    return Finding.objects.select_for_update(of=("self",)).select_related("registered_model__team", "owner").get(pk=finding.pk)


def _move(finding: Finding, target: str) -> str:
    if target not in FINDING_TRANSITIONS[finding.state]:
        allowed = ", ".join(FINDING_TRANSITIONS[finding.state]) or "none (the finding is closed)"
        raise ConflictError(f"A finding that is {finding.get_state_display().lower()} cannot become {target}; "
                            f"allowed next states: {allowed}.", code="illegal_transition")
    before = finding.state
    finding.state = target
    return before


def _finding_payload(finding: Finding) -> dict:
    return {"finding_id": finding.pk, "model": finding.registered_model.name, "title": finding.title,
            "severity": finding.severity, "state": finding.state, "due_date": finding.due_date.isoformat(),
            "owner": finding.owner.get_username()}


@transaction.atomic
def finding_create(*, user, validation: Validation, title: str, severity: str, description: str, owner,
                   due_date: datetime.date, versions: list[ModelVersion] | None = None) -> Finding:
    validation = Validation.objects.select_related("version__registered_model__team").get(pk=validation.pk)
    model = validation.version.registered_model
    require_independent(user, model)
    if severity not in Severity.values:
        raise ApplicationError("Unknown severity.", fields={"severity": [f"One of {', '.join(Severity.values)}."]})
    if owner is None or not owner.is_active or not models_user_can_change(owner).filter(pk=model.pk).exists():
        raise ApplicationError("The finding's owner works in the owning team.",
                               fields={"owner": [f"A member of {model.team.slug} who can change {model.name}."]})
    if due_date < timezone.localdate():
        raise ApplicationError("The due date is in the past.", fields={"due_date": ["Today or later."]})
    versions = versions or [validation.version]
    if any(v.registered_model_id != model.pk for v in versions):
        raise ApplicationError("Linked versions belong to the validated model.", fields={"versions": ["Other model."]})
    finding = Finding(registered_model=model, validation=validation, title=_require_text(title, "title", "A title"),
                      severity=severity, description=_require_text(description, "description", "A description"),
                      owner=owner, due_date=due_date, raised_by=user)
    _full_clean(finding)
    finding.save()
    finding.versions.set(versions)
    _audit(user, action="modelrisk.finding_open", obj=finding, **_model_ctx(model), changes={
        "state": {"before": None, "after": finding.state}, "severity": {"before": None, "after": severity},
        "owner": {"before": None, "after": owner.get_username()}, "due_date": {"before": None, "after": due_date},
        "versions": {"before": None, "after": [v.version for v in versions]},
    })
    _emit(WebhookEvent.FINDING_OPENED, model, _finding_payload(finding))
    _mail_on_commit([owner], f"Finding on {model.name}: {finding.title}",
                    f"{user} raised a {severity} finding on {model.name}, due {due_date}:\n\n{finding.description}")
    return finding


@transaction.atomic
def finding_submit_remediation(*, user, finding: Finding, remediation: str) -> Finding:
    finding = _lock_finding(finding)
    if roles.is_read_only(user) or not models_user_can_change(user).filter(pk=finding.registered_model_id).exists():
        raise PermissionDeniedError("Only the owning team submits a remediation.", code="not_owning_team")
    remediation = _require_text(remediation, "remediation", "A description of the remediation")
    before = _move(finding, FindingState.REMEDIATION_SUBMITTED)
    finding.remediation, finding.remediation_submitted_at = remediation, timezone.now()
    finding.save(update_fields=["state", "remediation", "remediation_submitted_at"])
    _audit(user, action="modelrisk.finding_remediate", obj=finding, **_model_ctx(finding.registered_model),
           changes={"state": {"before": before, "after": finding.state}, "remediation": {"before": None, "after": remediation}})
    reviewers = [finding.raised_by] if finding.raised_by.is_active else []
    _mail_on_commit(reviewers, f"Remediation submitted: {finding.title}",
                    f"{user} submitted a remediation for finding #{finding.pk} on {finding.registered_model.name}:\n\n{remediation}")
    return finding


@transaction.atomic
def finding_close(*, user, finding: Finding, comment: str) -> Finding:
    """The validator accepts the remediation (closed) — independence checked like every validator act."""
    finding = _lock_finding(finding)
    require_independent(user, finding.registered_model)
    comment = _require_text(comment, "comment", "A comment")
    before = _move(finding, FindingState.CLOSED)
    finding.closed_by, finding.closed_at = user, timezone.now()
    finding.save(update_fields=["state", "closed_by", "closed_at"])
    _audit(user, action="modelrisk.finding_close", obj=finding, **_model_ctx(finding.registered_model),
           changes={"state": {"before": before, "after": finding.state}, "comment": {"before": None, "after": comment}})
    return finding


@transaction.atomic
def finding_reopen(*, user, finding: Finding, comment: str) -> Finding:
    """The validator finds the remediation insufficient: back to open."""
    finding = _lock_finding(finding)
    require_independent(user, finding.registered_model)
    comment = _require_text(comment, "comment", "A comment")
    if finding.state != FindingState.REMEDIATION_SUBMITTED:
        raise ConflictError("Only a submitted remediation can be sent back.", code="illegal_transition")
    before = _move(finding, FindingState.OPEN)
    finding.save(update_fields=["state"])
    _audit(user, action="modelrisk.finding_reopen", obj=finding, **_model_ctx(finding.registered_model),
           changes={"state": {"before": before, "after": finding.state}, "comment": {"before": None, "after": comment}})
    _mail_on_commit([finding.owner], f"Remediation not accepted: {finding.title}", comment)
    return finding


@transaction.atomic
def finding_accept_risk(*, user, finding: Finding, reason: str, expires: datetime.date) -> Finding:
    """A risk officer accepts the risk of an unresolved finding, with a reason and an expiry."""
    if roles.is_read_only(user) or not user.has_perm("governance.accept_risk_finding"):
        raise PermissionDeniedError("Only a risk officer accepts the risk of a finding.", code="not_risk_officer")
    finding = _lock_finding(finding)
    reason = _require_text(reason, "reason", "A written reason")
    today = timezone.localdate()
    if expires is None or expires <= today:
        raise ApplicationError("The acceptance needs an expiry after today.", fields={"expires": ["A future date."]})
    if expires > today + datetime.timedelta(days=366):
        raise ApplicationError("A risk acceptance lasts at most a year.", fields={"expires": ["Within a year."]})
    before = _move(finding, FindingState.RISK_ACCEPTED)
    finding.acceptance_reason, finding.acceptance_expires, finding.accepted_by = reason, expires, user
    finding.save(update_fields=["state", "acceptance_reason", "acceptance_expires", "accepted_by"])
    _audit(user, action="modelrisk.finding_accept_risk", obj=finding, **_model_ctx(finding.registered_model), changes={
        "state": {"before": before, "after": finding.state}, "reason": {"before": None, "after": reason},
        "expires": {"before": None, "after": expires},
    })
    return finding


# --- overdue: findings, acceptances, revalidations ----------------------------------------------


def _team_members(model):
    return get_user_model().objects.filter(groups=model.team.group, is_active=True).exclude(email="")


def modelrisk_overdue(*, today=None) -> dict:
    """Findings past due, risk acceptances expired, and revalidations due for versions that
    serve somewhere (the latest approving validation's ``valid_until`` has passed)."""
    today = today or timezone.localdate()
    findings = list(Finding.objects.filter(state__in=UNRESOLVED_FINDING_STATES, due_date__lt=today)
                    .select_related("registered_model__team", "owner").order_by("due_date", "id"))
    expired = list(Finding.objects.filter(state=FindingState.RISK_ACCEPTED, acceptance_expires__lt=today)
                   .select_related("registered_model__team", "owner"))
    serving = set(DeploymentSplit.objects.filter(deployment__status=DeploymentStatus.ACTIVE).values_list("version_id", flat=True))
    latest: dict[int, Validation] = {}
    for validation in (Validation.objects.filter(version_id__in=serving, state=ValidationState.SIGNED,
                                                  outcome__in=APPROVING_OUTCOMES)
                       .select_related("version__registered_model__team", "validator").order_by("-signed_at", "-id")):
        latest.setdefault(validation.version_id, validation)
    validations = [v for v in latest.values() if v.valid_until and v.valid_until < today]
    return {"findings": findings, "expired_acceptances": expired, "validations": validations}


def modelrisk_send_overdue_notices(*, today=None) -> int:
    """Daily: reopen expired risk acceptances, then tell owners (e-mail) and integrations (webhook
    outbox) about overdue findings and revalidations — once per item per day."""
    today = today or timezone.localdate()
    sent = 0
    risk_officers = list(_users_with_roles([roles.RISK_OFFICER]))
    for finding in modelrisk_overdue(today=today)["expired_acceptances"]:
        with transaction.atomic():
            locked = _lock_finding(finding)
            if locked.state != FindingState.RISK_ACCEPTED:
                continue
            locked.state = FindingState.OPEN
            locked.save(update_fields=["state"])
            audit.record(action="modelrisk.finding_acceptance_expired", obj=locked, **_model_ctx(locked.registered_model),
                         changes={"state": {"before": FindingState.RISK_ACCEPTED, "after": FindingState.OPEN},
                                  "expired": {"before": None, "after": locked.acceptance_expires}})
    overdue = modelrisk_overdue(today=today)  # reopened findings past their due date are overdue too
    for finding in overdue["findings"]:
        with transaction.atomic():
            if Finding.objects.filter(pk=finding.pk, last_overdue_notice=today).exists():
                continue
            Finding.objects.filter(pk=finding.pk).update(last_overdue_notice=today)
            model = finding.registered_model
            days = (today - finding.due_date).days
            _emit(WebhookEvent.FINDING_OVERDUE, model, {**_finding_payload(finding), "days_overdue": days})
            _mail_on_commit([finding.owner, *_team_members(model), *risk_officers],
                            f"Finding overdue: {model.name}: {finding.title}",
                            f"Finding #{finding.pk} ({finding.severity}) on {model.name} was due on {finding.due_date} "
                            f"({days} days ago). Owner: {finding.owner}.")
            sent += 1
    for validation in overdue["validations"]:
        with transaction.atomic():
            if Validation.objects.filter(pk=validation.pk, last_overdue_notice=today).exists():
                continue
            Validation.objects.filter(pk=validation.pk).update(last_overdue_notice=today)
            model = validation.version.registered_model
            days = (today - validation.valid_until).days
            _emit(WebhookEvent.VALIDATION_OVERDUE, model, {
                "validation_id": validation.pk, "model": model.name, "version": validation.version.version,
                "valid_until": validation.valid_until.isoformat(), "days_overdue": days,
            })
            _mail_on_commit([*_team_members(model), *risk_officers, validation.validator],
                            f"Revalidation overdue: {model.name} v{validation.version.version}",
                            f"The validation of {model.name} v{validation.version.version} (#{validation.pk}) was current "
                            f"until {validation.valid_until} ({days} days ago); the version still serves.")
            sent += 1
    return sent


# --- documentation ------------------------------------------------------------------------------


def _lock_document(version: ModelVersion) -> ModelDocument | None:
    return ModelDocument.objects.select_for_update(of=("self",)).filter(version=version).first()


@transaction.atomic
def document_create(*, user, version: ModelVersion) -> ModelDocument:
    """Start the documentation of a version from its tier/regime template, prefilled."""
    from governance.modelrisk import documentation

    version = ModelVersion.objects.select_related("registered_model__team").get(pk=version.pk)
    _require_owner_or_risk(user, version.registered_model)
    if _lock_document(version) is not None:
        raise ConflictError("This version already has its documentation; edit it.", code="document_exists")
    template, sections = documentation.prefilled_sections(version)
    document = ModelDocument(version=version, template=template, sections=sections, updated_by=user)
    _full_clean(document)
    document.save()
    _audit(user, action="modelrisk.document_create", obj=document, **_model_ctx(version),
           changes={"template": {"before": None, "after": template}})
    return document


@transaction.atomic
def document_update(*, user, document: ModelDocument, texts: dict[str, str]) -> ModelDocument:
    """People complete the sections: ``texts`` maps section key → text."""
    document = ModelDocument.objects.select_for_update(of=("self",)).select_related(
        "version__registered_model__team").get(pk=document.pk)
    _require_owner_or_risk(user, document.version.registered_model)
    if not isinstance(texts, dict) or any(not isinstance(v, str) for v in texts.values()):
        raise ApplicationError("texts: section key → text.", fields={"texts": ["An object of strings."]})
    keys = {s["key"] for s in document.sections}
    unknown = sorted(set(texts) - keys)
    if unknown:
        raise ApplicationError(f"Unknown sections: {', '.join(unknown)}.", fields={"texts": [f"Sections: {', '.join(sorted(keys))}."]})
    before = {s["key"]: s["text"] for s in document.sections if s["key"] in texts}
    for section in document.sections:
        if section["key"] in texts:
            section["text"] = texts[section["key"]][:20000]
    document.revision += 1
    document.updated_by, document.updated_at = user, timezone.now()
    document.save(update_fields=["sections", "revision", "updated_by", "updated_at"])
    _audit(user, action="modelrisk.document_update", obj=document, **_model_ctx(document.version),
           changes={**audit.diff(before, {k: texts[k] for k in before}), "revision": {"before": document.revision - 1,
                                                                                     "after": document.revision}})
    return document


@transaction.atomic
def document_export(*, user, document: ModelDocument, file_format: str = "html") -> tuple[bytes, str, str]:
    """Render the documentation (HTML, or PDF when WeasyPrint is installed); the hash of what
    was handed out is audited. Returns (content, content type, sha256)."""
    from governance.modelrisk import documentation

    document = ModelDocument.objects.select_for_update(of=("self",)).select_related(
        "version__registered_model__team").get(pk=document.pk)
    if file_format not in documentation.export_formats():
        raise ApplicationError(f"Unsupported format {file_format!r}.",
                               fields={"file_format": [f"One of {', '.join(documentation.export_formats())}."]})
    content, content_type = documentation.render(document, file_format)
    digest = hashlib.sha256(content).hexdigest()
    document.last_export_sha256 = digest
    document.save(update_fields=["last_export_sha256"])
    _audit(user, action="modelrisk.document_export", obj=document, **_model_ctx(document.version), changes={
        "format": {"before": None, "after": file_format}, "sha256": {"before": None, "after": digest},
        "revision": {"before": None, "after": document.revision},
    })
    return content, content_type, digest
