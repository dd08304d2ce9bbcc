"""REST endpoints of model risk: the same rules as the services, in the API's envelope."""

import hashlib

import pytest

from governance.modelrisk.models import Finding, Validation
from modelgate.core.models import AuditEvent
from tests.conftest import api_for
from tests.governance.fixtures import TIER_1_ANSWERS, make_model
from tests.modelrisk.conftest import in_days

pytestmark = pytest.mark.django_db


def test_it_assesses_and_overrides_over_rest(ds_owner, risk, outsider, auditor, team_credit):
    make_model(user=ds_owner, team=team_credit, name="credit-scorer", assessed=False)
    url = "/api/v1/model-risk/inventory/credit-scorer/"
    response = api_for(ds_owner).post(url + "assess/", {"answers": TIER_1_ANSWERS}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tier"] == 1 and response.json()["eu_ai_act_category"] == "high_risk"
    bad = api_for(ds_owner).post(url + "assess/", {"answers": {**TIER_1_ANSWERS, "materiality": "huge"}}, format="json")
    assert bad.status_code == 400 and "materiality" in bad.json()["error"]["fields"]
    assert api_for(outsider).post(url + "assess/", {"answers": TIER_1_ANSWERS}, format="json").status_code == 404
    assert api_for(auditor).post(url + "assess/", {"answers": TIER_1_ANSWERS}, format="json").status_code == 403
    assert api_for(ds_owner).post(url + "override-tier/", {"tier": 2, "reason": "x"}, format="json").status_code == 403
    response = api_for(risk).post(url + "override-tier/", {"tier": 2, "reason": "Output is reviewed by underwriters"},
                                  format="json")
    assert response.status_code == 200 and response.json()["tier"] == 2 and response.json()["override_by"] == "rick"
    assert api_for(auditor).get(url).json()["tier"] == 2


def test_it_walks_validation_and_findings_over_rest(ds_owner, validator, validator_in_credit, tier1_version):
    v = api_for(validator)
    response = v.post("/api/v1/model-risk/validations/", {"version_id": tier1_version.pk, "scope": "Initial"}, format="json")
    assert response.status_code == 201, response.content
    vid = response.json()["id"]
    insider = api_for(validator_in_credit).post("/api/v1/model-risk/validations/",
                                                {"version_id": tier1_version.pk, "scope": "mine"}, format="json")
    assert insider.status_code == 403 and insider.json()["error"]["code"] == "validator_not_independent"
    checklist = {item: {"result": "satisfactory"} for item in response.json()["checklist"]}
    assert v.patch(f"/api/v1/model-risk/validations/{vid}/", {"checklist": checklist}, format="json").status_code == 200
    signed = v.post(f"/api/v1/model-risk/validations/{vid}/sign/", {"outcome": "approved"}, format="json")
    assert signed.status_code == 200 and signed.json()["state"] == "signed"
    finding = v.post("/api/v1/model-risk/findings/", {
        "validation_id": vid, "title": "Back-test too short", "severity": "medium", "description": "6 months only",
        "owner": "dana", "due_date": in_days(14).isoformat()}, format="json")
    assert finding.status_code == 201, finding.content
    fid = finding.json()["id"]
    assert api_for(ds_owner).post(f"/api/v1/model-risk/findings/{fid}/remediate/", {"remediation": "24 months"},
                                  format="json").status_code == 200
    refused = api_for(validator_in_credit).post(f"/api/v1/model-risk/findings/{fid}/close/", {"comment": "ok"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "validator_not_independent"
    assert Finding.objects.get(pk=fid).state == "remediation_submitted"
    closed = v.post(f"/api/v1/model-risk/findings/{fid}/close/", {"comment": "Verified"}, format="json")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert Validation.objects.count() == 1


def test_it_exports_documentation_with_its_hash_audited(ds_owner, tier1_version, auditor):
    dana = api_for(ds_owner)
    created = dana.post("/api/v1/model-risk/documents/", {"version_id": tier1_version.pk}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["template"] == "sr11-7+annex-iv"  # EU high-risk: Annex IV sections too
    keys = [s["key"] for s in body["sections"]]
    assert "human_oversight" in keys and "intended_purpose" in keys
    assert "Risk tier: Tier 1" in body["sections"][0]["prefilled"]
    patched = dana.patch(f"/api/v1/model-risk/documents/{body['id']}/",
                         {"texts": {"human_oversight": "Underwriters review every decline."}}, format="json")
    assert patched.status_code == 200 and patched.json()["revision"] == 2
    bad = dana.patch(f"/api/v1/model-risk/documents/{body['id']}/", {"texts": {"nope": "x"}}, format="json")
    assert bad.status_code == 400
    response = api_for(auditor).get(f"/api/v1/model-risk/documents/{body['id']}/export/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content
    assert b"Underwriters review every decline." in html and b"Human oversight" in html
    digest = hashlib.sha256(html).hexdigest()
    assert response["X-Content-SHA256"] == digest
    event = AuditEvent.objects.get(action="modelrisk.document_export")
    assert event.changes["sha256"]["after"] == digest and event.actor_username == auditor.username
    unsupported = api_for(auditor).get(f"/api/v1/model-risk/documents/{body['id']}/export/?file_format=docx")
    assert unsupported.status_code == 400
