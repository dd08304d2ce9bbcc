"""Portal pages of model risk: dashboard with filters and CSV, the model's risk page with
buttons decided on the server, and POSTs refused by the services."""

import csv
import io

import pytest
from django.test import Client

from governance.modelrisk import services as mr
from governance.modelrisk.models import Finding, InventoryRecord, Validation
from tests.governance.fixtures import make_model
from tests.modelrisk.conftest import in_days, signed_validation

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_it_filters_the_dashboard_and_exports_csv(ds_owner, risk, team_credit, team_fraud, outsider, tier1_version):
    make_model(user=outsider, team=team_fraud, name="fraud-model")  # tier 3
    make_model(user=ds_owner, team=team_credit, name="unassessed-model", assessed=False)
    client = client_for(risk)
    html = client.get("/governance/model-risk/").content.decode()
    assert "credit-scorer" in html and "fraud-model" in html and "unassessed-model" in html
    html = client.get("/governance/model-risk/?tier=1").content.decode()
    assert "credit-scorer" in html and "fraud-model" not in html
    html = client.get("/governance/model-risk/?tier=unassessed").content.decode()
    assert "unassessed-model" in html and "credit-scorer" not in html
    response = client.get("/governance/model-risk/?team=fraud&export=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["model"] for r in rows] == ["fraud-model"] and rows[0]["tier"] == "3"
    response = client.get("/governance/model-risk/?tier=1&export=xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["model", "team", "tier"] and [row[0] for row in values[1:]] == ["credit-scorer"]
    assert values[1][2] == 1
    # A practitioner sees their own team's models only.
    html = client_for(outsider).get("/governance/model-risk/").content.decode()
    assert "fraud-model" in html and "credit-scorer" not in html


def test_it_shows_buttons_by_role_and_refuses_the_posts_anyway(ds_owner, validator, validator_in_credit, auditor,
                                                               tier1_version):
    url = "/governance/model-risk/models/credit-scorer/"
    assert 'id="validate-form"' in client_for(validator).get(url).content.decode()
    assert 'id="validate-form"' not in client_for(validator_in_credit).get(url).content.decode()
    assert 'id="assess-form"' in client_for(ds_owner).get(url).content.decode()
    auditor_html = client_for(auditor).get(url).content.decode()
    assert "<form" not in auditor_html.split('id="record-title"')[1]
    response = client_for(validator_in_credit).post(url + "validate/", {"version_id": tier1_version.pk, "scope": "x"})
    assert response.status_code == 403 and "Independence" in response.content.decode()
    assert client_for(auditor).post(url + "assess/", {"materiality": "low"}).status_code == 403
    assert not Validation.objects.exists()
    response = client_for(validator).post(url + "validate/", {"version_id": tier1_version.pk, "scope": "Initial"})
    assert response.status_code == 302 and Validation.objects.count() == 1


def test_it_walks_a_finding_through_the_portal(ds_owner, validator, validator_in_credit, tier1_version):
    validation = signed_validation(validator, tier1_version)
    response = client_for(validator).post(f"/governance/model-risk/validations/{validation.pk}/finding/", {
        "title": "Missing stress test", "severity": "high", "description": "No downturn scenario",
        "owner": "dana", "due_date": in_days(20).isoformat()})
    assert response.status_code == 302
    finding = Finding.objects.get()
    page = client_for(ds_owner).get("/governance/model-risk/models/credit-scorer/").content.decode()
    assert "Missing stress test" in page and "remediate-form" in page and "close-form" not in page
    client_for(ds_owner).post(f"/governance/model-risk/findings/{finding.pk}/remediate/", {"remediation": "Added"})
    refused = client_for(validator_in_credit).post(f"/governance/model-risk/findings/{finding.pk}/close/", {"comment": "ok"})
    assert refused.status_code == 403
    assert Finding.objects.get().state == "remediation_submitted"
    client_for(validator).post(f"/governance/model-risk/findings/{finding.pk}/close/", {"comment": "Verified"})
    assert Finding.objects.get().state == "closed"


def test_it_assesses_and_documents_through_the_portal(ds_owner, team_credit, auditor):
    from tests.governance.fixtures import make_version

    model = make_model(user=ds_owner, team=team_credit, name="scorecard", assessed=False)
    version = make_version(user=ds_owner, model=model)
    client = client_for(ds_owner)
    client.post("/governance/model-risk/models/scorecard/assess/", {
        "materiality": "high", "complexity": "low", "reliance": "supported", "decisions_about_people": "true",
        "eu_ai_act_category": "limited"})
    assert InventoryRecord.objects.get(registered_model=model).tier == 2
    response = client.post("/governance/model-risk/models/scorecard/document/", {"version_id": version.pk})
    assert response.status_code == 302
    document_url = response["Location"]
    client.post(document_url + "save/", {"text-intended_purpose": "Scores small-business loans."})
    export = client_for(auditor).get(document_url + "export/")
    assert export.status_code == 200 and b"Scores small-business loans." in export.content
    assert len(export["X-Content-SHA256"]) == 64


def test_it_lets_a_risk_officer_accept_and_override(ds_owner, risk, validator, tier1_version):
    validation = signed_validation(validator, tier1_version)
    finding = mr.finding_create(user=validator, validation=validation, title="t", severity="low", description="d",
                                owner=ds_owner, due_date=in_days(5))
    client = client_for(risk)
    client.post(f"/governance/model-risk/findings/{finding.pk}/accept/", {"reason": "Compensating control",
                                                                         "expires": in_days(90).isoformat()})
    assert Finding.objects.get().state == "risk_accepted"
    client.post("/governance/model-risk/models/credit-scorer/override/", {"tier": "2", "reason": "Human review"})
    assert InventoryRecord.objects.get().tier == 2
