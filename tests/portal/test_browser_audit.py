"""In a real browser: audrey picks an action from the audit trail's dropdown and reads
what happened in sentences."""

import pytest
from playwright.sync_api import expect

from governance import services as gov
from tests.portal.conftest import walk_to_prod_request
from tests.portal.test_browser_approver import login

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]


def test_it_lets_audrey_filter_the_trail_by_action_and_read_sentences(
    page, live_server, plain_http_cookies, ds_owner, mle_teammate, team_credit, approver, auditor
):
    _, _, req = walk_to_prod_request(ds_owner, mle_teammate, team_credit)
    gov.promotion_request_approve(user=approver, request=req, comment="Reviewed the evidence")
    login(page, live_server, "audrey")
    page.get_by_role("link", name="Audit", exact=True).click()
    page.locator("#action-filter").select_option(label="Approved a promotion request")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit-table tbody tr")
    expect(rows).to_have_count(2)  # mel's UAT approval and bea's Prod approval
    expect(rows.first).to_contain_text("bea approved credit-scoring v1 for Prod as business approver: “Reviewed the evidence”")
    expect(page.locator("#action-filter")).to_have_value("promotion.approve")
    # the group choice widens it to every promotion event, still in sentences
    page.locator("#action-filter").select_option(label="All: promotion requests")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-table")).to_contain_text("dana asked to put credit-scoring v1 into Prod")
    expect(page.locator("#audit-table")).to_contain_text("completed the approvals: credit-scoring v1 may go to UAT")


def test_the_access_review_lists_the_demos_roles_and_who_granted_them(page, live_server, plain_http_cookies):
    import io

    from modelgate.core import demo
    from tests.portal.conftest import environments

    environments()
    demo.seed(io.StringIO())
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("audrey")
    page.get_by_label("Password").fill(demo.demo_password("audrey"))
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_role("link", name="access review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Access review")
    for role, holders in (("Data scientist", "dana, mara, otto"), ("ML engineer", "mel"), ("Business approver", "bea"),
                          ("Risk officer", "rick"), ("Auditor", "audrey"), ("Administrator", "ada")):
        expect(page.locator(f'#roles-table tr[data-role="{role}"] td')).to_have_text(holders)
    expect(page.locator('#people-table tr[data-user="bea"]')).to_contain_text("no team")
    expect(page.locator("#team-list")).to_contain_text("Credit Risk: dana, mel")
    expect(page.locator("#membership-changes")).to_contain_text("system gave bea the role Business approver")
    expect(page.locator("#membership-changes")).to_contain_text("system added dana to team Credit Risk")
