"""In a real browser (Debian's Chromium via Playwright): the business approver's
day, and the auditor who can look but not touch."""

import re

import pytest
from playwright.sync_api import expect

from governance.choices import RequestState
from tests.portal.conftest import walk_to_prod_request

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-only"


def login(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


def test_it_lets_a_business_approver_approve_a_prod_request_from_the_inbox(
    page, live_server, plain_http_cookies, ds_owner, mle_teammate, team_credit, approver, risk
):
    from governance import services

    model, mv, req = walk_to_prod_request(ds_owner, mle_teammate, team_credit)
    services.promotion_request_approve(user=risk, request=req, comment="Model risk reviewed")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm confirmation

    login(page, live_server, "bea")
    inbox = page.locator("#waiting-table")
    expect(inbox).to_contain_text("credit-scoring v1")
    expect(inbox).to_contain_text("Business approver")
    inbox.get_by_role("link", name="credit-scoring v1").click()

    # reads the gates: a checklist, every one passed, with values and thresholds
    # (Prod's five, its risk-assessment gate and the Tier 3 findings gate)
    expect(page.locator("#gate-list li")).to_have_count(7)
    expect(page.locator("#gate-list li.gate-pass")).to_have_count(7)
    expect(page.locator("#gate-list")).to_contain_text("threshold")
    prod_card = page.locator('#env-board [data-environment="prod"]')
    expect(prod_card).to_contain_text("pending approval")

    # the comment is required: the browser refuses to submit without it
    page.get_by_role("button", name="Approve").click()
    assert page.locator("#decision-comment").evaluate("el => !el.validity.valid")

    page.get_by_label(re.compile("Your comment")).fill("Business case and pricing impact reviewed")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#request-state")).to_have_text("Approved")
    expect(page.locator("#messages")).to_contain_text(f"You approved request #{req.pk}")
    expect(page.locator("#approval-slots")).to_contain_text("Business case and pricing impact reviewed")

    # the environment board changes: Prod now shows the approved version, ready to deploy
    page.goto(f"{live_server.url}/registry/models/{model.name}/")
    expect(prod_card).to_contain_text("approved, ready to deploy")
    req.refresh_from_db()
    assert req.state == RequestState.APPROVED
    assert errors == []


def test_it_shows_the_auditor_no_write_buttons_and_refuses_a_direct_post(
    page, live_server, plain_http_cookies, ds_owner, mle_teammate, team_credit, auditor
):
    model, mv, req = walk_to_prod_request(ds_owner, mle_teammate, team_credit)
    login(page, live_server, "audrey")
    page.goto(f"{live_server.url}/governance/requests/{req.pk}/")
    expect(page.locator("#gate-list li")).to_have_count(7)
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)
    page.goto(f"{live_server.url}/registry/models/{model.name}/versions/1/")
    expect(page.locator("#promote-form")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Deploy"))).to_have_count(0)

    # the audit trail, with a verified chain
    page.get_by_role("link", name="Audit").click()
    page.get_by_role("button", name="Verify the hash chain now").click()
    expect(page.locator("#chain-result")).to_contain_text("Chain intact")

    # a forged POST with the auditor's own session and CSRF token is refused on the server
    status = page.evaluate(
        """async (url) => {
            const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
            const body = new URLSearchParams({decision: 'approve', comment: 'forged'});
            const r = await fetch(url, {method: 'POST', body, headers: {'X-CSRFToken': token}});
            return r.status;
        }""",
        f"{live_server.url}/governance/requests/{req.pk}/decide/",
    )
    assert status == 403
    req.refresh_from_db()
    assert req.state == RequestState.PENDING and not req.approvals.exists()
