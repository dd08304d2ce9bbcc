"""Independent validation, findings and their states, the two gate kinds, overdue notices."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from governance import services as gov
from governance.modelrisk import services as mr
from governance.modelrisk.models import Finding, Validation
from governance.models import Webhook, WebhookDelivery
from modelgate.core.errors import ApplicationError, ConflictError, PermissionDeniedError
from modelgate.core.models import AuditEvent
from tests.modelrisk.conftest import envs, in_days, signed_validation

pytestmark = pytest.mark.django_db


def test_it_refuses_a_validator_from_the_owning_team(validator_in_credit, tier1_version):
    with pytest.raises(PermissionDeniedError) as exc:
        mr.validation_start(user=validator_in_credit, version=tier1_version, scope="initial")
    assert exc.value.code == "validator_not_independent"
    assert not Validation.objects.exists()


def test_it_refuses_people_without_the_validator_role(ds_owner, risk, admin_user, tier1_version):
    for user in (ds_owner, risk, admin_user):
        with pytest.raises(PermissionDeniedError) as exc:
            mr.validation_start(user=user, version=tier1_version, scope="initial")
        assert exc.value.code == "not_validator"


def test_it_signs_a_validation_with_frozen_evidence_and_a_revalidation_date(validator, tier1_version):
    validation = mr.validation_start(user=validator, version=tier1_version, scope="Initial validation")
    assert set(validation.checklist) == {"conceptual_soundness", "data", "outcomes", "fairness", "explainability",
                                         "implementation"}  # tier 1's checklist
    with pytest.raises(ConflictError) as exc:
        mr.validation_sign(user=validator, validation=validation, outcome="approved")
    assert exc.value.code == "checklist_incomplete"
    validation = signed_validation(validator, tier1_version)
    assert validation.state == "signed" and validation.valid_until == in_days(365)
    assert set(validation.evidence["ci_results"]) == {"unit", "e2e", "acceptance"}
    with pytest.raises(ConflictError):
        mr.validation_update(user=validator, validation=validation, summary="changed my mind")
    event = AuditEvent.objects.get(action="modelrisk.validation_sign")
    assert event.changes["outcome"]["after"] == "approved" and len(event.changes["evidence_sha256"]["after"]) == 64


def test_it_refuses_approving_an_unsatisfactory_checklist(validator, tier1_version):
    validation = mr.validation_start(user=validator, version=tier1_version, scope="s")
    checklist = {item: {"result": "satisfactory"} for item in validation.checklist}
    checklist["fairness"] = {"result": "unsatisfactory", "note": "disparate impact 0.7"}
    mr.validation_update(user=validator, validation=validation, checklist=checklist)
    with pytest.raises(ConflictError):
        mr.validation_sign(user=validator, validation=validation, outcome="approved")
    assert mr.validation_sign(user=validator, validation=validation, outcome="not_approved").outcome == "not_approved"


def _walk_to_prod_request(ds_owner, mle_teammate, version):
    gov.deployment_create_direct(user=ds_owner, version=version, environment=envs()["dev"])
    uat = gov.promotion_request_create(user=ds_owner, version=version, environment=envs()["uat"])
    gov.promotion_request_submit(user=ds_owner, request=uat)
    gov.promotion_request_approve(user=mle_teammate, request=uat, comment="ok")
    gov.promotion_request_deploy(user=ds_owner, request=uat)
    return gov.promotion_request_create(user=ds_owner, version=version, environment=envs()["prod"])


def test_it_blocks_tier_1_prod_without_approved_validation_and_with_open_findings(
        ds_owner, mle_teammate, validator, risk, approver, tier1_version):
    prod = _walk_to_prod_request(ds_owner, mle_teammate, tier1_version)
    with pytest.raises(ConflictError) as exc:
        gov.promotion_request_submit(user=ds_owner, request=prod)
    assert "Independent validation approved" in exc.value.message
    validation = signed_validation(validator, tier1_version)
    finding = mr.finding_create(user=validator, validation=validation, title="Back-test window too short",
                                severity="medium", description="Only 6 months", owner=ds_owner, due_date=in_days(30))
    low = mr.finding_create(user=validator, validation=validation, title="Typo in the model card", severity="low",
                            description="minor", owner=ds_owner, due_date=in_days(30))
    with pytest.raises(ConflictError) as exc:
        gov.promotion_request_submit(user=ds_owner, request=prod)
    assert "Back-test window too short" in exc.value.message and "Typo" not in exc.value.message
    # The owner remediates, the validator closes; the low finding stays open and does not block.
    with pytest.raises(ConflictError):
        mr.finding_close(user=validator, finding=finding, comment="too early")  # no remediation submitted yet
    mr.finding_submit_remediation(user=ds_owner, finding=finding, remediation="Extended to 24 months")
    mr.finding_close(user=validator, finding=finding, comment="Verified the new back-test")
    req = gov.promotion_request_submit(user=ds_owner, request=prod)
    gates = {g["kind"]: g for g in req.evidence["submitted"]["gates"]}
    assert gates["validation_approved"]["passed"] and gates["no_open_findings"]["passed"]
    assert gates["validation_approved"]["source"] == "tier 1 policy"
    assert Finding.objects.get(pk=low.pk).state == "open"


def test_it_closes_findings_only_through_the_validator_or_risk_acceptance(
        ds_owner, outsider, validator, validator_in_credit, risk, tier1_version):
    validation = signed_validation(validator, tier1_version)
    finding = mr.finding_create(user=validator, validation=validation, title="t", severity="high", description="d",
                                owner=ds_owner, due_date=in_days(10))
    with pytest.raises(ConflictError) as exc:
        mr.finding_close(user=validator, finding=finding, comment="c")
    assert exc.value.code == "illegal_transition"
    with pytest.raises(PermissionDeniedError):
        mr.finding_submit_remediation(user=outsider, finding=finding, remediation="not my model")
    mr.finding_submit_remediation(user=ds_owner, finding=finding, remediation="fixed")
    with pytest.raises(PermissionDeniedError) as exc:
        mr.finding_close(user=validator_in_credit, finding=finding, comment="looks fine to me")
    assert exc.value.code == "validator_not_independent"
    with pytest.raises(PermissionDeniedError):
        mr.finding_close(user=ds_owner, finding=finding, comment="self-approved")
    mr.finding_reopen(user=validator, finding=finding, comment="not enough")
    with pytest.raises(PermissionDeniedError):
        mr.finding_accept_risk(user=validator, finding=finding, reason="r", expires=in_days(30))
    with pytest.raises(ApplicationError) as exc:
        mr.finding_accept_risk(user=risk, finding=finding, reason="compensating control", expires=timezone.localdate())
    assert "expires" in exc.value.fields
    finding = mr.finding_accept_risk(user=risk, finding=finding, reason="compensating control", expires=in_days(30))
    assert finding.state == "risk_accepted" and finding.accepted_by == risk


def test_it_refuses_a_finding_owner_outside_the_owning_team(validator, outsider, tier1_version):
    validation = signed_validation(validator, tier1_version)
    with pytest.raises(ApplicationError) as exc:
        mr.finding_create(user=validator, validation=validation, title="t", severity="low", description="d",
                          owner=outsider, due_date=in_days(5))
    assert "owner" in exc.value.fields


def test_it_notifies_overdue_findings_and_revalidations_once_a_day(ds_owner, mle_teammate, validator, risk,
                                                                   tier1_version, django_capture_on_commit_callbacks):
    Webhook.objects.create(name="grc", url="https://grc.example.test/hook", secret="s",
                           events=["finding.overdue", "validation.overdue"])
    validation = signed_validation(validator, tier1_version)
    finding = mr.finding_create(user=validator, validation=validation, title="Stale data", severity="low",
                                description="d", owner=ds_owner, due_date=in_days(3))
    accepted = mr.finding_create(user=validator, validation=validation, title="Accepted", severity="low",
                                 description="d", owner=ds_owner, due_date=in_days(60))
    mr.finding_accept_risk(user=risk, finding=accepted, reason="compensating control", expires=in_days(5))
    gov.deployment_create_direct(user=ds_owner, version=tier1_version, environment=envs()["dev"])
    mail.outbox.clear()
    assert mr.modelrisk_send_overdue_notices() == 0
    later = timezone.localdate() + datetime.timedelta(days=400)  # past the due date, the acceptance and valid_until
    with django_capture_on_commit_callbacks(execute=True):  # e-mails go on commit
        sent = mr.modelrisk_send_overdue_notices(today=later)
    events = sorted(WebhookDelivery.objects.values_list("event", flat=True))
    # The expired acceptance reopened the second finding; both findings and the revalidation are overdue.
    assert Finding.objects.get(pk=accepted.pk).state == "open"
    assert events == ["finding.overdue", "finding.overdue", "validation.overdue"] and sent == 3
    subjects = [m.subject for m in mail.outbox]
    assert any("Finding overdue" in s and "Stale data" in s for s in subjects)
    assert any("Revalidation overdue" in s for s in subjects)
    recipients = {r for m in mail.outbox for r in m.to}
    assert ds_owner.email in recipients and risk.email in recipients
    assert mr.modelrisk_send_overdue_notices(today=later) == 0  # once per day
    assert finding.pk


def test_it_reads_the_tier_gates_in_the_periodic_review(ds_owner, validator, risk, tier1_version):
    from governance.models import Deployment, DeploymentSplit

    deployment = Deployment.objects.create(environment=envs()["prod"], registered_model=tier1_version.registered_model,
                                           deployed_by=ds_owner)
    DeploymentSplit.objects.create(deployment=deployment, version=tier1_version, weight=100)
    validation = signed_validation(validator, tier1_version)
    Validation.objects.filter(pk=validation.pk).update(valid_until=timezone.localdate() - datetime.timedelta(days=1))
    with pytest.raises(ConflictError) as exc:
        gov.deployment_mark_reviewed(user=risk, deployment=deployment, comment="annual review")
    assert exc.value.code == "model_risk_gates_failed" and "Independent validation approved" in exc.value.message
    signed_validation(validator, tier1_version)  # the revalidation
    reviewed = gov.deployment_mark_reviewed(user=risk, deployment=deployment, comment="annual review")
    assert reviewed.review_by == in_days(180)  # Tier 1 Prod: the shorter of 365 and 180 days
    event = AuditEvent.objects.get(action="deployment.review")
    assert {c["kind"] for c in event.changes["model_risk_gates"]["after"]} == {
        "validation_approved", "no_open_findings", "risk_assessment_done"}
