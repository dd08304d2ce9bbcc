"""The evidence pack: one self-contained document per request (HTML and PDF) whose
SHA-256 is recorded in the audit chain when it is generated."""

import hashlib
import re

import pytest

from governance.evidence import AUDIT_ACTION
from modelgate.core import audit
from modelgate.core.models import AuditEvent
from tests.portal.conftest import client_for, decision_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(ds_owner, mle_teammate, approver, risk, team_credit):
    return decision_scenario(ds_owner, mle_teammate, approver, risk, team_credit)


def test_it_serves_a_self_contained_html_pack_and_chains_its_hash(approver, scenario):
    req = scenario["request"]
    response = client_for(approver).get(f"/governance/requests/{req.pk}/evidence.html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    # self-contained: no script, no stylesheet or image fetched from anywhere
    assert "<script" not in html and "<link" not in html and not re.search(r'src="(?!data:)', html)
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    for heading in ("The decision in short", "Version identity and lineage", "Quality gates", "Side by side", "Fairness report #",
                    "Drift report #", "Approvals", "Audit events of this request"):
        assert heading in html, heading
    assert "credit-scoring v2 replaces v1 in Prod, 100 % of traffic." in html
    assert hashlib.sha256(b"model-bytes-2").hexdigest() in html  # the artifact's hash identifies the version
    assert "<svg" in html and "four-fifths rule" in html  # charts drawn on the server
    assert "commit b2c3d4e5f6" in html  # lineage diagram
    event = AuditEvent.objects.filter(action=AUDIT_ACTION).get()
    assert event.changes["sha256"] == hashlib.sha256(response.content).hexdigest() == response["X-Content-SHA256"]
    assert event.changes["format"] == "html" and event.actor_username == "bea" and event.object_id == str(req.pk)
    assert audit.verify_chain().ok


def test_it_renders_the_pdf_with_weasyprint_and_records_its_hash(approver, scenario):
    req = scenario["request"]
    response = client_for(approver).get(f"/governance/requests/{req.pk}/evidence.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and len(response.content) > 20_000
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="evidence-request-') and "credit-scoring-v2-prod" in disposition
    event = AuditEvent.objects.get(action=AUDIT_ACTION)
    assert event.changes["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert event.changes["bytes"] == len(response.content) and event.changes["format"] == "pdf"


def test_it_lists_approvals_and_the_requests_audit_events(approver, risk, scenario):
    from governance import services as gov

    req = gov.promotion_request_approve(user=approver, request=scenario["request"], comment="Pricing impact reviewed")
    html = client_for(risk).get(f"/governance/requests/{req.pk}/evidence.html").content.decode()
    approvals = html[html.index('id="pack-approvals"'):html.index('id="pack-audit"')]
    assert "Pricing impact reviewed" in approvals and "business_approver" in approvals and "UTC" in approvals
    events = html[html.index('id="pack-audit"'):]
    assert events.count("<tr>") >= 3  # created, submitted, approved


def test_it_answers_404_to_another_team_and_records_nothing(outsider, scenario):
    assert client_for(outsider).get(f"/governance/requests/{scenario['request'].pk}/evidence.pdf").status_code == 404
    assert not AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


def test_it_offers_only_pdf_and_html(approver, scenario):
    assert client_for(approver).get(f"/governance/requests/{scenario['request'].pk}/evidence.docx").status_code == 404


def test_the_decision_page_links_both_formats(approver, scenario):
    html = client_for(approver).get(f"/governance/requests/{scenario['request'].pk}/").content.decode()
    assert f'href="/governance/requests/{scenario["request"].pk}/evidence.pdf"' in html and "Evidence pack (PDF)" in html
