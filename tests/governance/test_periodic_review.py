"""Periodic review alerts, stale approvals, and the selectors the portal uses."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from governance import selectors, services
from governance.models import Deployment, DeploymentSplit, Environment, PromotionRequest
from governance.tasks import periodic_review
from modelgate.core import roles
from tests.conftest import api_for
from tests.factories import UserFactory
from tests.governance.fixtures import post_passing_ci

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue_prod(version, ds_owner):
    """A Prod deployment whose yearly review was due 40 days ago (made as data: the walk is tested elsewhere)."""
    prod = Environment.objects.get(slug="prod")
    dep = Deployment.objects.create(environment=prod, registered_model=version.registered_model, deployed_by=ds_owner,
                                    created_at=timezone.now() - datetime.timedelta(days=405),
                                    review_by=timezone.localdate() - datetime.timedelta(days=40))
    DeploymentSplit.objects.create(deployment=dep, version=version, weight=100)
    return dep


def test_it_sets_review_by_from_the_environment_policy(ds_owner, mle_teammate, version):
    uat = Environment.objects.get(slug="uat")
    uat.review_interval_days = 90
    uat.save()
    post_passing_ci(user=ds_owner, version=version)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=uat)
    services.promotion_request_submit(user=ds_owner, request=req)
    services.promotion_request_approve(user=mle_teammate, request=req, comment="ok")
    dep = services.promotion_request_deploy(user=ds_owner, request=req)
    assert dep.review_by == timezone.localdate() + datetime.timedelta(days=90)


def test_it_alerts_the_owner_team_and_risk_officers_of_an_overdue_review(ds_owner, outsider, risk, mle_teammate, overdue_prod):
    alerts = api_for(ds_owner).get("/api/v1/governance-alerts/").json()
    assert [(a["kind"], a["severity"], a["model"]) for a in alerts] == [("review_overdue", "high", "credit-scoring")]
    assert api_for(risk).get("/api/v1/governance-alerts/").json() == alerts
    assert api_for(outsider).get("/api/v1/governance-alerts/").json() == []
    result = periodic_review.apply().get()
    assert result == {"expired": 0, "alerts_sent": 1, "modelrisk_notices": 0}
    assert sorted(mail.outbox[0].to) == ["dana@example.test", "mel@example.test", "rick@example.test"]
    assert "review overdue" in mail.outbox[0].subject


def test_it_clears_the_alert_when_a_risk_officer_records_the_review(risk, ds_owner, overdue_prod):
    response = api_for(risk).post(f"/api/v1/deployments/{overdue_prod.pk}/review/", {"comment": "revalidated, AUC stable"},
                                  format="json")
    assert response.status_code == 200
    assert response.json()["review_by"] == (timezone.localdate() + datetime.timedelta(days=365)).isoformat()
    assert selectors.governance_alerts() == []
    assert api_for(ds_owner).post(f"/api/v1/deployments/{overdue_prod.pk}/review/", {"comment": "x"},
                                  format="json").status_code == 403


def test_it_expires_stale_approvals_and_refuses_to_deploy_them(ds_owner, mle_teammate, version):
    post_passing_ci(user=ds_owner, version=version)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    services.promotion_request_submit(user=ds_owner, request=req)
    services.promotion_request_approve(user=mle_teammate, request=req, comment="ok")
    PromotionRequest.objects.filter(pk=req.pk).update(decided_at=timezone.now() - datetime.timedelta(days=31))
    assert [a["kind"] for a in selectors.governance_alerts()] == ["approval_stale"]
    response = api_for(ds_owner).post(f"/api/v1/promotion-requests/{req.pk}/deploy/", {}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "approval_expired"
    assert PromotionRequest.objects.get(pk=req.pk).state == "expired"  # committed although the call was refused
    assert not Deployment.objects.filter(environment__slug="uat").exists()


def test_it_expires_stale_approvals_in_the_daily_task(ds_owner, mle_teammate, risk, version):
    post_passing_ci(user=ds_owner, version=version)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    services.promotion_request_submit(user=ds_owner, request=req)
    services.promotion_request_approve(user=mle_teammate, request=req, comment="ok")
    PromotionRequest.objects.filter(pk=req.pk).update(decided_at=timezone.now() - datetime.timedelta(days=45))
    assert periodic_review.apply().get() == {"expired": 1, "alerts_sent": 1, "modelrisk_notices": 0}
    assert PromotionRequest.objects.get(pk=req.pk).state == "expired"
    assert "approval is stale" in mail.outbox[0].subject
    assert sorted(mail.outbox[0].to) == ["dana@example.test", "mel@example.test", "rick@example.test"]
    assert selectors.governance_alerts() == []


def test_it_fills_each_inbox_with_what_waits_for_that_person(ds_owner, mle_teammate, approver, risk, outsider, version):
    uat = Environment.objects.get(slug="uat")
    post_passing_ci(user=ds_owner, version=version)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=uat)
    services.promotion_request_submit(user=ds_owner, request=req)
    assert [r.pk for r in selectors.inbox_for_user(mle_teammate)] == [req.pk]
    assert selectors.inbox_for_user(mle_teammate)[0].inbox_roles == ["ml_engineer"]
    for user in (ds_owner, approver, risk, outsider):
        assert selectors.inbox_for_user(user) == []
    # An ML engineer of another team does not see the credit team's request.
    other = UserFactory(username="finn", roles=[roles.ML_ENGINEER], teams=[outsider.groups.get(name="team:fraud").team])
    assert selectors.inbox_for_user(other) == []
    assert api_for(mle_teammate).get("/api/v1/promotion-requests/inbox/").json()[0]["id"] == req.pk
    services.promotion_request_approve(user=mle_teammate, request=req, comment="ok")
    assert selectors.inbox_for_user(mle_teammate) == []


def test_it_draws_the_environment_board(ds_owner, credit_model, version, django_assert_num_queries):
    from tests.governance.fixtures import make_version

    v2 = make_version(user=ds_owner, model=credit_model)
    dev = Environment.objects.get(slug="dev")
    services.deployment_create_direct(user=ds_owner, version=version, environment=dev)
    services.deployment_create_direct(user=ds_owner, version=v2, environment=dev,
                                      splits=[{"version": v2, "weight": 20}, {"version": version, "weight": 80}])
    # Active deployments (1) + splits with versions (1) + approvals (none to fetch: no request) + environments (1).
    with django_assert_num_queries(3):
        board = selectors.environment_board(credit_model)
    assert [row.environment.slug for row in board] == ["dev", "uat", "prod"]
    assert [(s.version.version, s.weight) for s in board[0].splits] == [(1, 80), (2, 20)]
    assert board[1].deployment is None and board[0].since is not None
