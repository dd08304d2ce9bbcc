"""In a real browser: bea decides on a Prod request from its decision page — the summary,
the warnings that are not gates, the comparison with the version serving in Prod — downloads
the evidence pack, checks its hash against the audit chain, and approves."""

import hashlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from governance.evidence import AUDIT_ACTION
from modelgate.core.models import AuditEvent
from tests.portal.conftest import decision_scenario
from tests.portal.test_browser_approver import login

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]


def test_it_lets_bea_read_the_decision_page_download_the_pack_and_approve(
    page, live_server, plain_http_cookies, ds_owner, mle_teammate, approver, risk, team_credit
):
    scenario = decision_scenario(ds_owner, mle_teammate, approver, risk, team_credit)
    req = scenario["request"]
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())

    login(page, live_server, "bea")
    page.locator("#waiting-table").get_by_role("link", name="credit-scoring v2").click()
    expect(page.locator("#decision-summary")).to_contain_text("credit-scoring v2 replaces v1 in Prod, 100 % of traffic.")
    expect(page.locator("#decision-summary")).to_contain_text("All 7 gates pass.")
    warnings = page.locator("#decision-warnings li")
    expect(warnings.filter(has_text="Drift")).to_contain_text("income has drifted")
    expect(warnings.filter(has_text="SLA alerts")).to_contain_text("p95 latency 312 ms > 200 ms")
    expect(warnings.filter(has_text="Model card")).to_contain_text("no model card")
    auc = page.locator('#comparison-table tr[data-row="auc"]')
    expect(auc.locator("td.cmp-better")).to_contain_text("0.870")
    expect(auc.locator("td.cmp-worse")).to_contain_text("0.840")
    expect(page.locator('#comparison-table tr[data-row="p95 latency (CI acceptance test)"]')).to_contain_text("−7 ms")

    with page.expect_download() as download_info:
        page.locator("#evidence-pdf").click()
    download = download_info.value
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-") and download.suggested_filename.endswith(".pdf")
    event = AuditEvent.objects.get(action=AUDIT_ACTION, object_id=str(req.pk))
    assert event.changes["sha256"] == hashlib.sha256(content).hexdigest() and event.actor_username == "bea"

    page.get_by_label(re.compile("Your comment")).fill("Read the pack: drift on income is expected after the pay rise")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#approval-slots")).to_contain_text("drift on income is expected")
    assert req.approvals.get().user == approver
    assert errors == []
