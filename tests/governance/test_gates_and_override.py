"""Gate kinds, the written-justification override of the protected-attribute gate,
and the gate registry interface other apps use."""

import pytest

from governance import gates, services
from governance.gates import GateResult, evaluate_gate, register_gate_kind
from governance.models import Environment
from modelgate.core import audit
from tests.conftest import api_for
from tests.governance.fixtures import make_version, post_passing_ci

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("params", "passed"), [
    ({"metric": "auc", "op": ">=", "value": 0.86}, True),
    ({"metric": "auc", "op": ">", "value": 0.86}, False),
    ({"metric": "auc", "op": "<", "value": 0.9}, True),
    ({"metric": "missing", "op": ">=", "value": 0.1}, False),
    ({"metric": "auc", "op": "~", "value": 0.1}, False),  # a broken gate blocks, never passes
    ({"metric": "auc", "op": ">=", "value": "high"}, False),
])
def test_it_evaluates_metric_thresholds(version, params, passed):
    assert evaluate_gate("metric_threshold", version, params).passed is passed


def test_it_blocks_on_an_unknown_gate_kind(version):
    result = evaluate_gate("no_such_gate", version, {})
    assert not result.passed and "no app registers it" in result.message


def test_it_lets_another_app_register_a_gate_kind_without_governance_knowing_it(ds_owner, admin_user, version):
    @register_gate_kind("test_always_review", label="Needs a person")
    def always(version, params):
        return GateResult(True, "looked fine", evidence={"report_id": 7}, needs_review=True)

    try:
        uat = Environment.objects.get(slug="uat")
        uat = services.environment_update_policy(user=admin_user, environment=uat,
                                           data={"gates": [{"kind": "test_always_review", "params": {}}]})
        evaluation = services.gates_evaluate(version=version, environment=uat)
        assert evaluation["passed"] and evaluation["gates"][0]["evidence"] == {"report_id": 7}
        assert evaluation["gates"][0]["needs_review"] is True
    finally:
        gates.GATE_KINDS.pop("test_always_review")


def test_it_refuses_a_policy_naming_an_unknown_gate_or_role(admin_user):
    client = api_for(admin_user)
    response = client.patch("/api/v1/environments/uat/", {"gates": [{"kind": "nope"}]}, format="json")
    assert response.status_code == 400 and "gates" in response.json()["error"]["fields"]
    response = client.patch("/api/v1/environments/uat/", {"required_approver_roles": ["pope"]}, format="json")
    assert response.status_code == 400 and "required_approver_roles" in response.json()["error"]["fields"]
    assert Environment.objects.get(slug="uat").required_approver_roles == ["ml_engineer"]
    response = client.patch("/api/v1/environments/uat/", {"approval_max_age_days": 7}, format="json")
    assert response.status_code == 200 and response.json()["approval_max_age_days"] == 7
    assert audit.verify_chain().ok


def _to_uat(ds_owner, mle_teammate, version):
    post_passing_ci(user=ds_owner, version=version)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    services.promotion_request_submit(user=ds_owner, request=req)
    services.promotion_request_approve(user=mle_teammate, request=req, comment="ok")
    services.promotion_request_deploy(user=ds_owner, request=req)


def test_it_overrides_the_protected_attribute_gate_only_with_an_approved_justification(
    ds_owner, mle_teammate, approver, risk, credit_model
):
    schema = {"type": "object", "properties": {"income": {"type": "number"}, "Gender": {"type": "string"}}}
    version = make_version(user=ds_owner, model=credit_model, input_schema=schema)
    _to_uat(ds_owner, mle_teammate, version)
    dana, bea, rick = api_for(ds_owner), api_for(approver), api_for(risk)
    rid = dana.post("/api/v1/promotion-requests/", {"version_id": version.pk, "environment": "prod"}, format="json").json()["id"]
    response = dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert response.status_code == 409
    assert response.json()["error"]["fields"]["gates"] == [
        "no_protected_attribute_input: Protected attributes are model inputs: Gender."
    ]
    justification = "Gender is used only to measure fairness-aware calibration; legal signed off (ticket LEG-12)."
    assert dana.patch(f"/api/v1/promotion-requests/{rid}/", {"justification": justification}, format="json").status_code == 200
    response = dana.post(f"/api/v1/promotion-requests/{rid}/submit/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["override_state"] == "pending"
    gate = next(g for g in body["evidence"]["submitted"]["gates"] if g["kind"] == "no_protected_attribute_input")
    assert gate["passed"] is False and gate["override_pending"] is True and gate["value"] == ["Gender"]

    # Both roles approve, yet the request waits for the justification's own approval.
    bea.post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "ok"}, format="json")
    response = rick.post(f"/api/v1/promotion-requests/{rid}/approve/", {"comment": "ok"}, format="json")
    assert response.json()["state"] == "pending"
    # Only a risk officer decides it, with a comment.
    assert bea.post(f"/api/v1/promotion-requests/{rid}/decide-override/", {"approve": True, "comment": "x"},
                    format="json").status_code == 403
    assert rick.post(f"/api/v1/promotion-requests/{rid}/decide-override/", {"approve": True}, format="json").status_code == 400
    response = rick.post(f"/api/v1/promotion-requests/{rid}/decide-override/",
                         {"approve": True, "comment": "justification accepted"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "approved"
    assert response.json()["override_decided_by"] == "rick"
    response = dana.post(f"/api/v1/promotion-requests/{rid}/deploy/", {}, format="json")
    assert response.status_code == 201, response.content
    deployed = api_for(risk).get(f"/api/v1/promotion-requests/{rid}/").json()["evidence"]["deployed"]
    assert next(g for g in deployed["gates"] if g["kind"] == "no_protected_attribute_input")["overridden"] is True


def test_it_rejects_the_request_when_the_justification_is_refused(ds_owner, mle_teammate, risk, credit_model):
    schema = {"type": "object", "properties": {"ethnicity": {"type": "string"}}}
    version = make_version(user=ds_owner, model=credit_model, input_schema=schema)
    _to_uat(ds_owner, mle_teammate, version)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="prod"),
                                            justification="needed")
    services.promotion_request_submit(user=ds_owner, request=req)
    req = services.promotion_override_decide(user=risk, request=req, approve=False, comment="not acceptable")
    assert (req.state, req.override_state) == ("rejected", "rejected")


def test_it_reevaluates_the_gates_before_deployment(ds_owner, mle_teammate, admin_user, version):
    post_passing_ci(user=ds_owner, version=version)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    services.promotion_request_submit(user=ds_owner, request=req)
    services.promotion_request_approve(user=mle_teammate, request=req, comment="ok")
    # CI posts a failing e2e run after the approval: deployment is blocked.
    services.ci_test_result_post(user=ds_owner, version=version, kind="e2e", passed=False)
    response = api_for(ds_owner).post(f"/api/v1/promotion-requests/{req.pk}/deploy/", {}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "gates_failed"
    assert "deployment" in response.json()["error"]["message"]


def test_it_previews_gates_without_storing_anything(ds_owner, version):
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    body = api_for(ds_owner).get(f"/api/v1/promotion-requests/{req.pk}/gates/").json()
    assert body["passed"] is False and len(body["gates"]) == 2
    req.refresh_from_db()
    assert req.evidence == {} and req.state == "draft"
