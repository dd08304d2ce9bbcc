"""The approver's home: decided by me, models under periodic review with due dates, gate
overrides waiting for a risk officer, wording for a user with no team, activity in sentences."""

import pytest

from governance import services as gov
from tests.portal.conftest import client_for, decision_scenario, walk_to_prod_request

pytestmark = pytest.mark.django_db


def _section(html, element_id):
    start = html.index(f'id="{element_id}"')
    return html[start:html.index("</section>", start)]


def test_it_shows_what_bea_decided_and_the_prod_reviews_due(ds_owner, mle_teammate, approver, risk, team_credit):
    decision_scenario(ds_owner, mle_teammate, approver, risk, team_credit)  # v1 approved by bea and deployed in Prod
    html = client_for(approver).get("/").content.decode()
    decided = _section(html, "decided-by-me")
    assert "Approved" in decided and "credit-scoring v1 → Prod" in decided and "“Reviewed”" in decided and "UTC" in decided
    reviews = _section(html, "reviews-due")
    assert "credit-scoring" in reviews and "Prod" in reviews and "v1" in reviews
    assert "none: you own no model, and your role lets you review every team's." in html
    assert "Recent activity on the models you review" in html
    assert "dana submitted request #" in html and "credit-scoring v2 → Prod; every gate passed" in html  # the feed in sentences


def test_it_lists_overrides_waiting_for_a_risk_officer(ds_owner, mle_teammate, team_credit, risk):
    schema = {"type": "object", "properties": {"income": {"type": "number"}, "gender": {"type": "string"}}}
    walk_to_prod_request(ds_owner, mle_teammate, team_credit, input_schema=schema,
                         justification="Gender is needed to measure, not to decide.")
    html = client_for(risk).get("/").content.decode()
    overrides = _section(html, "overrides-waiting")
    assert "credit-scoring v1 → Prod" in overrides and "Gender is needed to measure" in overrides


def test_a_practitioner_sees_no_approver_sections(ds_owner, prod_request):
    html = client_for(ds_owner).get("/").content.decode()
    assert 'id="decided-by-me"' not in html and 'id="no-team"' not in html and "Your teams' recent activity" in html


def test_nothing_decided_means_no_section(approver, prod_request):
    assert 'id="decided-by-me"' not in client_for(approver).get("/").content.decode()
    gov.promotion_request_approve(user=approver, request=prod_request[2], comment="ok")
    assert 'id="decided-by-me"' in client_for(approver).get("/").content.decode()
