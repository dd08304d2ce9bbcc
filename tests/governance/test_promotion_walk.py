"""The API walk of a version Dev → UAT → Prod: gates fail and block, then pass;
separation of duties; rollback; every step in the verified audit trail."""

import pytest
from django.core import mail

from governance.models import Deployment, PromotionRequest
from modelgate.core import roles
from modelgate.core.audit import verify_chain
from modelgate.core.models import AuditEvent
from tests.conftest import api_for
from tests.factories import UserFactory
from tests.governance.fixtures import make_version

pytestmark = pytest.mark.django_db


def _request(client, version, env, **extra):
    response = client.post("/api/v1/promotion-requests/", {"version_id": version.pk, "environment": env, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _post_ci(client, version, kind, passed=True, **metrics):
    response = client.post(
        "/api/v1/ci-test-results/",
        {"version_id": version.pk, "kind": kind, "passed": passed, "metrics": metrics, "ci_run_id": "gh-42"},
        format="json",
    )
    assert response.status_code == 201, response.content


def _walk_to_uat(dana, mel, version):
    """Dev by direct deployment, UAT through a request approved by the ML engineer."""
    assert dana.post("/api/v1/deployments/", {"version_id": version.pk, "environment": "dev"}, format="json").status_code == 201
    for kind in ("unit", "e2e"):
        _post_ci(dana, version, kind)
    rid = _request(dana, version, "uat", reason="ready for UAT")
    assert dana.post(f"/api/v1/promotion-requests/{rid}/submit/").status_code == 200
    assert mel.post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "looks fine"}, format="json").status_code == 200
    response = dana.post(f"/api/v1/promotion-requests/{rid}/deploy/", {}, format="json")
    assert response.status_code == 201, response.content
    return rid


def test_it_walks_a_version_from_dev_to_prod_with_gates_and_approvals(
    ds_owner, mle_teammate, approver, risk, version, django_capture_on_commit_callbacks
):
    dana, mel, bea, rick = (api_for(u) for u in (ds_owner, mle_teammate, approver, risk))

    # Dev: the owning team's data scientist deploys directly.
    response = dana.post("/api/v1/deployments/", {"version_id": version.pk, "environment": "dev"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["splits"] == [{"version": 1, "version_id": version.pk, "weight": 100}]

    # UAT: the gates block submission while CI results are missing.
    rid = _request(dana, version, "uat", reason="ready for UAT")
    response = dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert response.status_code == 409
    body = response.json()["error"]
    assert body["code"] == "gates_failed"
    assert any("not posted: unit, e2e" in g for g in body["fields"]["gates"])
    assert PromotionRequest.objects.get(pk=rid).state == "draft"  # nothing half-written

    _post_ci(dana, version, "unit")
    _post_ci(dana, version, "e2e", passed=False)
    response = dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert response.status_code == 409 and "failed: e2e" in response.json()["error"]["message"]
    _post_ci(dana, version, "e2e")  # the latest result counts
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # e-mails leave on commit
        response = dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert response.status_code == 200, response.content
    request_body = response.json()
    assert request_body["state"] == "pending"
    assert request_body["missing_roles"] == ["ml_engineer"]
    frozen = request_body["evidence"]["submitted"]
    assert frozen["passed"] is True
    assert {g["kind"] for g in frozen["gates"]} == {"ci_test_results", "metric_threshold"}
    metric = next(g for g in frozen["gates"] if g["kind"] == "metric_threshold")
    assert metric["value"] == 0.86 and metric["threshold"] == ">= 0.7"
    # The ML engineer of the owning team is told by e-mail.
    assert [m.to for m in mail.outbox] == [["mel@example.test"]]

    # Submitting twice is an illegal transition, explained.
    response = dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert response.status_code == 409
    assert "pending approval request cannot become pending" in response.json()["error"]["message"].lower()

    # Approve needs a comment.
    response = mel.post(f"/api/v1/promotion-requests/{rid}/approve/", {}, format="json")
    assert response.status_code == 400 and "comment" in response.json()["error"]["fields"]
    response = mel.post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "tests green, metrics ok"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved"
    assert response.json()["approvals"][0] | {"created_at": None, "id": None} == {
        "id": None, "user": "mel", "role": "ml_engineer", "decision": "approved", "comment": "tests green, metrics ok",
        "created_at": None,
    }
    response = dana.post(f"/api/v1/promotion-requests/{rid}/deploy/", {}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["environment"] == "uat"
    assert PromotionRequest.objects.get(pk=rid).state == "deployed"

    # Prod: blocked until the acceptance test shows p95 within 200 ms.
    prod = _request(dana, version, "prod", reason="go live")
    response = dana.post(f"/api/v1/promotion-requests/{prod}/submit/")
    assert response.status_code == 409
    gates = response.json()["error"]["fields"]["gates"]
    assert any(g.startswith("ci_test_results") for g in gates) and any(g.startswith("latency_acceptance") for g in gates)
    _post_ci(dana, version, "acceptance", p95_ms=450.0)
    response = dana.post(f"/api/v1/promotion-requests/{prod}/submit/")
    assert response.status_code == 409
    assert response.json()["error"]["fields"]["gates"] == ["latency_acceptance: p95 latency 450 ms > 200 ms."]
    _post_ci(dana, version, "acceptance", p95_ms=120.0)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = dana.post(f"/api/v1/promotion-requests/{prod}/submit/")
    assert response.status_code == 200, response.content
    assert sorted(response.json()["missing_roles"]) == ["business_approver", "risk_officer"]
    assert len(mail.outbox) == 1 and sorted(mail.outbox[0].to) == ["bea@example.test", "rick@example.test"]

    # Deploying before every role approved is refused, explained.
    response = dana.post(f"/api/v1/promotion-requests/{prod}/deploy/", {}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "illegal_transition"

    # Both required roles approve; the ML engineer holds neither.
    response = mel.post(f"/api/v1/promotion-requests/{prod}/approve/", {"comment": "me too"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "role_not_required"
    assert bea.post(f"/api/v1/promotion-requests/{prod}/approve/", {"comment": "business case ok"}, format="json").json()["state"] == "pending"
    response = rick.post(f"/api/v1/promotion-requests/{prod}/approve/", {"comment": "risk accepted"}, format="json")
    assert response.json()["state"] == "approved"
    response = dana.post(f"/api/v1/promotion-requests/{prod}/deploy/", {}, format="json")
    assert response.status_code == 201, response.content
    deployment = response.json()
    assert deployment["environment"] == "prod" and deployment["review_by"] is not None
    assert deployment["promotion_request"] == prod

    # The board shows the version in every environment.
    board = dana.get("/api/v1/deployments/board/", {"model": "credit-scoring"}).json()
    assert [(row["environment"], [s["version"] for s in row["splits"]]) for row in board] == [
        ("dev", [1]), ("uat", [1]), ("prod", [1])
    ]

    # Every step is in the audit trail, and the chain verifies.
    actions = list(AuditEvent.objects.filter(model_name="credit-scoring").values_list("action", flat=True))
    for expected in ("deployment.create", "promotion.create", "ci_result.post", "promotion.submit", "promotion.approve",
                     "promotion.approved", "promotion.deployed"):
        assert expected in actions
    assert actions.count("promotion.approve") == 3
    assert verify_chain().ok


def test_it_refuses_prod_for_a_version_never_in_uat(ds_owner, version):
    dana = api_for(ds_owner)
    rid = _request(dana, version, "prod")
    response = dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_in_previous_environment"
    assert "must be deployed in UAT first" in response.json()["error"]["message"]


def test_it_refuses_direct_deployment_to_read_only_prod(ds_owner, admin_user, version):
    for user in (ds_owner, admin_user):
        response = api_for(user).post("/api/v1/deployments/", {"version_id": version.pk, "environment": "prod"}, format="json")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "read_only_environment"


def test_it_refuses_approval_by_the_requester(mle_teammate, ds_owner, version):
    mel, dana = api_for(mle_teammate), api_for(ds_owner)
    for kind in ("unit", "e2e"):
        _post_ci(dana, version, kind)
    rid = _request(mel, version, "uat")
    assert mel.post(f"/api/v1/promotion-requests/{rid}/submit/").status_code == 200
    response = mel.post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "my own work is great"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "separation_of_duties"
    assert PromotionRequest.objects.get(pk=rid).approvals.count() == 0


def test_it_refuses_one_person_filling_two_roles(ds_owner, mle_teammate, version):
    dana, mel = api_for(ds_owner), api_for(mle_teammate)
    both = UserFactory(username="bo", roles=[roles.BUSINESS_APPROVER, roles.RISK_OFFICER])
    risk2 = UserFactory(username="rita", roles=[roles.RISK_OFFICER])
    _walk_to_uat(dana, mel, version)
    _post_ci(dana, version, "acceptance", p95_ms=50)
    rid = _request(dana, version, "prod")
    assert dana.post(f"/api/v1/promotion-requests/{rid}/submit/").status_code == 200
    bo = api_for(both)
    response = bo.post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "ok", "role": "business_approver"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "pending"
    response = bo.post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "ok again", "role": "risk_officer"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "separation_of_duties"
    assert "cannot fill two roles" in response.json()["error"]["message"]
    # Another risk officer completes it.
    response = api_for(risk2).post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "ok"}, format="json")
    assert response.json()["state"] == "approved"


def test_it_rejects_with_a_comment_and_closes_the_request(ds_owner, mle_teammate, version, django_capture_on_commit_callbacks):
    dana, mel = api_for(ds_owner), api_for(mle_teammate)
    for kind in ("unit", "e2e"):
        _post_ci(dana, version, kind)
    rid = _request(dana, version, "uat")
    dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = mel.post(f"/api/v1/promotion-requests/{rid}/reject/", {"comment": "drift on the holdout set"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "rejected"
    assert mail.outbox[0].to == ["dana@example.test"] and "drift on the holdout set" in mail.outbox[0].body
    for verb in ("approve", "reject"):
        response = mel.post(f"/api/v1/promotion-requests/{rid}/{verb}/", {"comment": "again"}, format="json")
        assert response.status_code == 409
    response = dana.post(f"/api/v1/promotion-requests/{rid}/cancel/", {}, format="json")
    assert response.status_code == 409 and "closed" in response.json()["error"]["message"]


def test_it_rolls_back_to_the_previous_version(ds_owner, mle_teammate, approver, risk, credit_model, version):
    dana, mel = api_for(ds_owner), api_for(mle_teammate)
    v2 = make_version(user=ds_owner, model=credit_model, metrics={"auc": 0.9})
    _walk_to_uat(dana, mel, version)
    _walk_to_uat(dana, mel, v2)
    uat = Deployment.objects.get(environment__slug="uat", status="active")
    assert list(uat.splits.values_list("version__version", flat=True)) == [2]

    response = mel.post(f"/api/v1/deployments/{uat.pk}/rollback/", {"note": "v2 latency regression"}, format="json")
    assert response.status_code == 201, response.content
    restored = response.json()
    assert restored["splits"] == [{"version": 1, "version_id": version.pk, "weight": 100}]
    assert Deployment.objects.get(pk=uat.pk).status == "rolled_back"
    assert Deployment.objects.filter(environment__slug="uat", status="active").count() == 1
    # Rolling back the restored deployment again: v1's deployment had nothing before it.
    response = mel.post(f"/api/v1/deployments/{restored['id']}/rollback/", {}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "nothing_to_roll_back_to"
    # A data scientist cannot roll back (role), a rolled-back deployment cannot be rolled back again (state).
    assert dana.post(f"/api/v1/deployments/{restored['id']}/rollback/", {}, format="json").status_code == 403
    assert mel.post(f"/api/v1/deployments/{uat.pk}/rollback/", {}, format="json").status_code == 409
    event = AuditEvent.objects.filter(action="deployment.rollback").get()
    assert event.changes["restored_from"]["after"] != uat.pk and event.actor_username == "mel"
    assert verify_chain().ok


def test_it_deploys_a_canary_split_and_refuses_bad_weights(ds_owner, credit_model, version):
    dana = api_for(ds_owner)
    v2 = make_version(user=ds_owner, model=credit_model)
    assert dana.post("/api/v1/deployments/", {"version_id": version.pk, "environment": "dev"}, format="json").status_code == 201
    response = dana.post("/api/v1/deployments/", {
        "version_id": v2.pk, "environment": "dev",
        "splits": [{"version_id": v2.pk, "weight": 10}, {"version_id": version.pk, "weight": 80}],
    }, format="json")
    assert response.status_code == 400 and "splits" in response.json()["error"]["fields"]
    response = dana.post("/api/v1/deployments/", {
        "version_id": v2.pk, "environment": "dev",
        "splits": [{"version_id": v2.pk, "weight": 10}, {"version_id": version.pk, "weight": 90}],
    }, format="json")
    assert response.status_code == 201
    assert {s["version"]: s["weight"] for s in response.json()["splits"]} == {2: 10, 1: 90}
    assert Deployment.objects.filter(environment__slug="dev", status="active").count() == 1


def test_it_refuses_promoting_an_archived_version(ds_owner, version):
    dana = api_for(ds_owner)
    response = dana.post("/api/v1/version-lifecycle/", {"version_id": version.pk, "state": "archived", "reason": "superseded"},
                         format="json")
    assert response.status_code == 200 and response.json()["state"] == "archived"
    response = dana.post("/api/v1/promotion-requests/", {"version_id": version.pk, "environment": "uat"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "version_not_active"
    response = dana.post("/api/v1/deployments/", {"version_id": version.pk, "environment": "dev"}, format="json")
    assert response.status_code == 409


def test_it_refuses_archiving_a_serving_version(ds_owner, version):
    dana = api_for(ds_owner)
    dana.post("/api/v1/deployments/", {"version_id": version.pk, "environment": "dev"}, format="json")
    response = dana.post("/api/v1/version-lifecycle/", {"version_id": version.pk, "state": "retired", "reason": "old"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "version_serving"


def test_it_lets_a_read_only_sharer_see_but_not_act(ds_owner, outsider, team_fraud, credit_model, version):
    from governance import services
    from governance.models import Environment
    from registry import services as registry

    registry.registered_model_share(user=ds_owner, model=credit_model, team=team_fraud)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    otto = api_for(outsider)
    assert otto.get(f"/api/v1/promotion-requests/{req.pk}/").status_code == 200
    for verb, body in (("submit", {}), ("cancel", {}), ("deploy", {})):
        response = otto.post(f"/api/v1/promotion-requests/{req.pk}/{verb}/", body, format="json")
        assert response.status_code == 403 and response.json()["error"]["code"] == "not_owning_team", verb
    assert otto.patch(f"/api/v1/promotion-requests/{req.pk}/", {"reason": "mine now"}, format="json").status_code == 403
    response = otto.post("/api/v1/promotion-requests/", {"version_id": version.pk, "environment": "prod"}, format="json")
    assert response.status_code == 403
    assert PromotionRequest.objects.get(pk=req.pk).state == "draft"


def test_it_deploys_an_approved_version_as_a_canary_next_to_the_serving_one(ds_owner, mle_teammate, credit_model, version):
    dana, mel = api_for(ds_owner), api_for(mle_teammate)
    _walk_to_uat(dana, mel, version)
    v2 = make_version(user=ds_owner, model=credit_model)
    for kind in ("unit", "e2e"):
        _post_ci(dana, v2, kind)
    rid = _request(dana, v2, "uat")
    dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    mel.post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "canary first"}, format="json")
    response = dana.post(f"/api/v1/promotion-requests/{rid}/deploy/", {"canary_weight": 100}, format="json")
    assert response.status_code == 400 and "canary_weight" in response.json()["error"]["fields"]
    response = dana.post(f"/api/v1/promotion-requests/{rid}/deploy/", {"canary_weight": 10}, format="json")
    assert response.status_code == 201, response.content
    assert {s["version"]: s["weight"] for s in response.json()["splits"]} == {2: 10, 1: 90}


def test_it_approves_a_request_at_once_where_the_policy_needs_no_approver(ds_owner, version):
    dana = api_for(ds_owner)
    rid = _request(dana, version, "dev")
    response = dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert response.status_code == 200 and response.json()["state"] == "approved"
    assert dana.post(f"/api/v1/promotion-requests/{rid}/deploy/", {}, format="json").status_code == 201


def test_it_refuses_a_second_approver_in_a_role_already_filled(ds_owner, mle_teammate, approver, version):
    dana, mel = api_for(ds_owner), api_for(mle_teammate)
    _walk_to_uat(dana, mel, version)
    _post_ci(dana, version, "acceptance", p95_ms=50)
    rid = _request(dana, version, "prod")
    dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert api_for(approver).post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "ok"}, format="json").status_code == 200
    second = UserFactory(username="bob", roles=[roles.BUSINESS_APPROVER])
    response = api_for(second).post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "me too"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "role_filled"
    assert "business_approver" in response.json()["error"]["message"]
