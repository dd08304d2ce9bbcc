"""Two approvers acting at the same moment: row locks keep the request consistent.
Real concurrent HTTP requests in threads, each on its own PostgreSQL connection."""

import threading

import pytest
from django.db import connection

from governance import services
from governance.models import Approval, Environment, PromotionRequest
from modelgate.core import roles
from modelgate.core.audit import verify_chain
from tests.conftest import api_for
from tests.factories import UserFactory

# postgres: row locks (SELECT … FOR UPDATE) between concurrent connections.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_environments")]


def _race(calls):
    """Start every call at the same moment; return their responses."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def slow_approval_insert(transactional_db):
    """Widen the race window: every approval insert sleeps 0.3 s inside its transaction, so two
    unlocked approvers would both read "no other approval yet" and leave the request pending."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION governance_test_slow_insert() RETURNS trigger AS $$ "
            "BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER governance_test_slow_insert BEFORE INSERT ON governance_approval "
            "FOR EACH ROW EXECUTE FUNCTION governance_test_slow_insert()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS governance_test_slow_insert ON governance_approval")
        cursor.execute("DROP FUNCTION IF EXISTS governance_test_slow_insert()")


@pytest.fixture
def board_env(db):
    # A stage needing two roles and no gates, so the test is only about approvals.
    return Environment.objects.create(name="CAB", slug="cab", order=99,
                                      required_approver_roles=[roles.BUSINESS_APPROVER, roles.RISK_OFFICER])


@pytest.mark.parametrize("round_", range(2))
def test_it_counts_two_simultaneous_approvals_in_different_roles(
    ds_owner, approver, risk, version, board_env, slow_approval_insert, round_
):
    req = services.promotion_request_create(user=ds_owner, version=version, environment=board_env)
    services.promotion_request_submit(user=ds_owner, request=req)
    bea, rick = api_for(approver), api_for(risk)
    url = f"/api/v1/promotion-requests/{req.pk}/approve/"
    responses = _race([lambda: bea.post(url, {"comment": "ok"}, format="json"),
                       lambda: rick.post(url, {"comment": "ok"}, format="json")])
    assert sorted(r.status_code for r in responses) == [200, 200]
    req.refresh_from_db()
    # Without the row lock each would see only its own approval and the request would stay pending.
    assert req.state == "approved"
    assert Approval.objects.filter(request=req).count() == 2
    assert verify_chain().ok


@pytest.mark.parametrize("round_", range(2))
def test_it_ends_consistent_when_approve_and_reject_race(
    ds_owner, mle_teammate, team_credit, version, slow_approval_insert, round_
):
    other_mle = UserFactory(username="max", roles=[roles.ML_ENGINEER], teams=[team_credit])
    uat = Environment.objects.get(slug="uat")
    uat.gates = []
    uat.save()
    req = services.promotion_request_create(user=ds_owner, version=version, environment=uat)
    services.promotion_request_submit(user=ds_owner, request=req)
    mel, max_ = api_for(mle_teammate), api_for(other_mle)
    base = f"/api/v1/promotion-requests/{req.pk}"
    responses = _race([lambda: mel.post(f"{base}/approve/", {"comment": "ship it"}, format="json"),
                       lambda: max_.post(f"{base}/reject/", {"comment": "not yet"}, format="json")])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [r.content for r in responses]
    req = PromotionRequest.objects.get(pk=req.pk)
    decisions = list(Approval.objects.filter(request=req).values_list("decision", flat=True))
    assert len(decisions) == 1
    assert req.state == {"approved": "approved", "rejected": "rejected"}[decisions[0]]
    assert verify_chain().ok


@pytest.mark.parametrize("round_", range(2))
def test_it_never_revives_a_request_cancelled_during_an_approval(
    ds_owner, mle_teammate, version, slow_approval_insert, round_
):
    """The approval reads the state under the row lock: a cancel racing it is never overwritten."""
    uat = Environment.objects.get(slug="uat")
    uat.gates = []
    uat.save()
    req = services.promotion_request_create(user=ds_owner, version=version, environment=uat)
    services.promotion_request_submit(user=ds_owner, request=req)
    mel, dana = api_for(mle_teammate), api_for(ds_owner)
    base = f"/api/v1/promotion-requests/{req.pk}"
    responses = _race([lambda: mel.post(f"{base}/approve/", {"comment": "ship it"}, format="json"),
                       lambda: dana.post(f"{base}/cancel/", {"comment": "wrong version"}, format="json")])
    assert all(r.status_code in (200, 409) for r in responses), [r.content for r in responses]
    # Either order ends cancelled: approve-then-cancel is legal, cancel-then-approve is refused.
    assert PromotionRequest.objects.get(pk=req.pk).state == "cancelled"
    assert verify_chain().ok


def test_it_opens_one_request_when_two_arrive_at_once(ds_owner, mle_teammate, version):
    dana, mel = api_for(ds_owner), api_for(mle_teammate)
    body = {"version_id": version.pk, "environment": "uat"}
    responses = _race([lambda: dana.post("/api/v1/promotion-requests/", body, format="json"),
                       lambda: mel.post("/api/v1/promotion-requests/", body, format="json")])
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert PromotionRequest.objects.filter(version=version).count() == 1
