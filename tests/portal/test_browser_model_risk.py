"""In a real browser (Debian's Chromium via Playwright), issue 25: an independent model
validator records a finding that blocks a Tier 1 model's Prod promotion, the owner
remediates, the validator closes the finding, and the promotion passes."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from governance import services as gov
from governance.modelrisk import services as modelrisk
from governance.roles import MODEL_VALIDATOR
from tests.factories import UserFactory
from tests.governance.fixtures import TIER_1_ANSWERS, assess
from tests.portal.conftest import environments, make_model

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-only"


def login(page, live_server, username):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


def _tier_1_version_in_uat_with_a_prod_draft(owner, ml_engineer, validator, team):
    """credit-scorer, Tier 1 / EU high-risk, v1 in Dev and UAT, validated and approved by an
    independent validator, and a draft request for Prod."""
    model, (mv,) = make_model(owner, team, "credit-scorer", assessed=False)
    assess(user=owner, model=model, answers=TIER_1_ANSWERS)
    for kind, metrics in (("unit", {}), ("e2e", {}), ("acceptance", {"p95_ms": 41.0})):
        gov.ci_test_result_post(user=owner, version=mv, kind=kind, passed=True, metrics=metrics)
    envs = environments()
    gov.deployment_create_direct(user=owner, version=mv, environment=envs["dev"])
    uat = gov.promotion_request_create(user=owner, version=mv, environment=envs["uat"], reason="UAT sign-off")
    gov.promotion_request_submit(user=owner, request=uat)
    gov.promotion_request_approve(user=ml_engineer, request=uat, comment="UAT looks good")
    gov.promotion_request_deploy(user=owner, request=uat)
    validation = modelrisk.validation_start(user=validator, version=mv, scope="Initial validation before Prod")
    modelrisk.validation_update(user=validator, validation=validation,
                                checklist={item: {"result": "satisfactory"} for item in validation.checklist})
    modelrisk.validation_sign(user=validator, validation=validation, outcome="approved")
    prod = gov.promotion_request_create(user=owner, version=mv, environment=envs["prod"], reason="Go live")
    return model, mv, validation, prod


def test_it_blocks_a_tier_1_promotion_on_a_finding_until_the_validator_closes_it(
    page, live_server, plain_http_cookies, ds_owner, mle_teammate, team_credit, approver, risk
):
    validator = UserFactory(username="val", roles=[MODEL_VALIDATOR])
    model, mv, validation, prod = _tier_1_version_in_uat_with_a_prod_draft(ds_owner, mle_teammate, validator, team_credit)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())

    # The validator records a medium finding on the validation.
    login(page, live_server, "val")
    page.goto(f"{live_server.url}/governance/model-risk/validations/{validation.pk}/")
    expect(page.locator("#outcome")).to_have_text("Approved")
    form = page.locator("#finding-form")
    form.get_by_label("Title").fill("Back-test window shorter than a credit cycle")
    form.get_by_label("Severity").select_option("medium")
    form.get_by_label("Description").fill("Outcomes cover 6 months only.")
    form.get_by_label("Owner").select_option("dana")
    form.get_by_label("Due").fill((timezone.localdate() + datetime.timedelta(days=30)).isoformat())
    form.get_by_role("button", name="Raise finding").click()
    expect(page.locator("#messages")).to_contain_text("raised")

    # The owner's Prod request is blocked by it.
    login(page, live_server, "dana")
    page.goto(f"{live_server.url}/governance/requests/{prod.pk}/")
    expect(page.locator("#gate-list")).to_contain_text("Back-test window shorter than a credit cycle")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#messages")).to_contain_text("No open validation findings")
    expect(page.locator("#request-state")).to_have_text("Draft")

    # The owner remediates on the model's risk page.
    page.goto(f"{live_server.url}/governance/model-risk/models/{model.name}/")
    finding = page.locator("#finding-list li").first
    expect(finding.locator("[data-state]")).to_have_text("Open")
    finding.get_by_label("Remediation").fill("Extended the back-test to 24 months; see report.")
    finding.get_by_role("button", name="Submit remediation").click()
    expect(page.locator("#finding-list li [data-state]").first).to_have_text("Remediation submitted")
    expect(page.locator(".close-form")).to_have_count(0)  # the owner cannot close their own finding

    # The validator closes it.
    login(page, live_server, "val")
    page.goto(f"{live_server.url}/governance/model-risk/models/{model.name}/")
    finding = page.locator("#finding-list li").first
    finding.get_by_label("Comment").fill("Verified the 24-month back-test.")
    finding.get_by_role("button", name="Close finding").click()
    expect(page.locator("#finding-list li [data-state]").first).to_have_text("Closed")

    # The promotion passes: submitted, approved by the Prod approvers, deployed by the owner.
    login(page, live_server, "dana")
    page.goto(f"{live_server.url}/governance/requests/{prod.pk}/")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#request-state")).to_have_text("Pending approval")
    prod.refresh_from_db()
    gates = {g["kind"]: g for g in prod.evidence["submitted"]["gates"]}
    assert gates["no_open_findings"]["passed"] and gates["validation_approved"]["passed"]
    gov.promotion_request_approve(user=approver, request=prod, comment="Business case reviewed")
    gov.promotion_request_approve(user=risk, request=prod, comment="Validation and findings reviewed")
    page.reload()
    page.get_by_role("button", name="Deploy to Prod").click()
    expect(page.locator("#request-state")).to_have_text("Deployed")
    assert errors == []
