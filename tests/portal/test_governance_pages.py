"""Inbox, promotion request page (gates, approve/reject, separation of duties), version actions, audit trail."""

from governance.choices import RequestState
from governance.models import Approval, Deployment, PromotionRequest
from tests.portal.conftest import client_for, environments, make_model

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_it_puts_a_pending_prod_request_in_the_approvers_inbox_with_role_and_gates(approver, prod_request):
    _, _, req = prod_request
    html = client_for(approver).get("/").content.decode()
    assert f"/governance/requests/{req.pk}/" in html
    assert "Business approver" in html and "7/7 pass" in html  # Prod's 5 gates, risk assessment, tier 3's findings gate


def test_it_keeps_the_requesters_own_request_out_of_their_inbox(ds_owner, prod_request):
    html = client_for(ds_owner).get("/").content.decode()
    assert "Your open requests" in html and "credit-scoring v1 → Prod" in html
    assert 'id="waiting-table"' not in html


def test_it_shows_the_gates_as_a_checklist_with_values_and_thresholds(approver, prod_request):
    _, _, req = prod_request
    html = client_for(approver).get(f"/governance/requests/{req.pk}/").content.decode()
    assert html.count('class="gate-pass"') == 7  # Prod's 5 gates, risk assessment, tier 3's findings gate
    assert "Metric threshold" in html and "threshold <strong>" in html
    assert 'id="decision-form"' in html and 'name="comment"' in html and "required" in html
    assert "data-confirm=" in html
    assert "Other evidence on this version" in html and "p95_ms 41 ms" in html  # the CI results behind the gates


def test_it_approves_with_a_comment_and_swaps_the_live_status(approver, risk, prod_request):
    _, _, req = prod_request
    client = client_for(approver)
    response = client.post(f"/governance/requests/{req.pk}/decide/", {"decision": "approve", "comment": "Business case OK"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="request-status"' in html and "Business case OK" in html and "<html" not in html
    assert "You approved request" in html  # the message comes back out-of-band
    assert Approval.objects.get(request=req).user == approver
    req.refresh_from_db()
    assert req.state == RequestState.PENDING  # the risk officer has not decided yet

    client_for(risk).post(f"/governance/requests/{req.pk}/decide/", {"decision": "approve", "comment": "Risk accepted"})
    req.refresh_from_db()
    assert req.state == RequestState.APPROVED
    board = client_for(approver).get(f"/registry/models/{req.version.registered_model.name}/").content.decode()
    assert "approved, ready to deploy" in board


def test_it_refuses_an_empty_comment(approver, prod_request):
    _, _, req = prod_request
    response = client_for(approver).post(f"/governance/requests/{req.pk}/decide/", {"decision": "approve", "comment": "  "}, **HTMX)
    assert response.status_code == 400 and "A comment is required" in response.content.decode()
    assert not Approval.objects.filter(request=req).exists()


def test_it_explains_separation_of_duties_to_the_requester_and_refuses_the_post(ds_owner, prod_request):
    _, _, req = prod_request
    client = client_for(ds_owner)
    html = client.get(f"/governance/requests/{req.pk}/").content.decode()
    assert 'id="decision-form"' not in html
    assert "separation of duties" in html and "Business approver and Risk officer" in html
    response = client.post(f"/governance/requests/{req.pk}/decide/", {"decision": "approve", "comment": "mine"})
    assert response.status_code == 403
    assert not Approval.objects.filter(request=req).exists()


def test_it_tells_an_approver_who_already_decided(approver, prod_request):
    from governance import services

    _, _, req = prod_request
    services.promotion_request_approve(user=approver, request=req, comment="ok")
    html = client_for(approver).get(f"/governance/requests/{req.pk}/").content.decode()
    assert 'id="decision-form"' not in html and "already decided" in html


def test_it_shows_the_auditor_no_write_buttons_and_refuses_their_posts(auditor, prod_request):
    model, mv, req = prod_request
    client = client_for(auditor)
    for url in (f"/governance/requests/{req.pk}/", f"/registry/models/{model.name}/versions/{mv.version}/", "/"):
        html = client.get(url).content.decode()
        # the only form that posts is the logout button in the header
        assert html.count('method="post"') == 1, url
        for marker in ('id="decision-form"', 'id="promote-form"', 'id="owner-actions"', 'id="version-actions"'):
            assert marker not in html, (url, marker)
    assert client.post(f"/governance/requests/{req.pk}/decide/", {"decision": "approve", "comment": "x"}).status_code == 403
    assert client.post(f"/governance/versions/{mv.pk}/promote/", {"environment": "prod", "reason": "x"}).status_code == 403
    assert client.post(f"/governance/requests/{req.pk}/cancel/").status_code == 403
    assert not Approval.objects.filter(request=req).exists()
    req.refresh_from_db()
    assert req.state == RequestState.PENDING


def test_it_answers_404_for_another_teams_request(outsider, prod_request):
    _, _, req = prod_request
    client = client_for(outsider)
    assert client.get(f"/governance/requests/{req.pk}/").status_code == 404
    assert client.post(f"/governance/requests/{req.pk}/decide/", {"decision": "reject", "comment": "x"}).status_code == 404


def test_it_lets_the_owner_deploy_to_dev_and_request_uat_from_the_version_page(ds_owner, team_credit):
    from governance import services as gov

    model, (mv,) = make_model(ds_owner, team_credit)
    client = client_for(ds_owner)
    html = client.get(f"/registry/models/{model.name}/versions/1/").content.decode()
    assert 'id="promote-form"' in html and "Deploy v1" in html

    response = client.post(f"/governance/versions/{mv.pk}/deploy/", {"environment": "dev"}, follow=True)
    assert "now serves in Dev" in response.content.decode()
    assert Deployment.objects.filter(registered_model=model, environment=environments()["dev"], status="active").exists()

    # UAT gates need CI results: without them the request is kept as a draft and the page says why.
    response = client.post(f"/governance/versions/{mv.pk}/promote/", {"environment": "uat", "reason": "ready"}, follow=True)
    req = PromotionRequest.objects.get(version=mv, environment__slug="uat")
    assert req.state == RequestState.DRAFT and "saved as a draft but not submitted" in response.content.decode()
    for kind in ("unit", "e2e"):
        gov.ci_test_result_post(user=ds_owner, version=mv, kind=kind, passed=True)
    response = client.post(f"/governance/requests/{req.pk}/submit/", follow=True)
    req.refresh_from_db()
    assert req.state == RequestState.PENDING and "submitted" in response.content.decode()


def test_it_shows_the_environment_board_on_the_model_page(ds_owner, prod_request):
    model, _, _ = prod_request
    html = client_for(ds_owner).get(f"/registry/models/{model.name}/").content.decode()
    assert 'data-environment="dev"' in html and 'data-environment="prod"' in html
    assert "pending approval" in html  # the Prod card shows the open request


def test_it_shows_environment_columns_and_filters_the_catalog_by_environment(ds_owner, prod_request):
    client = client_for(ds_owner)
    html = client.get("/registry/models/?environment=uat").content.decode()
    assert ">credit-scoring<" in html and '<th scope="col">UAT</th>' in html
    assert ">credit-scoring<" not in client.get("/registry/models/?environment=prod").content.decode()


def test_it_shows_the_auditor_the_trail_with_filters_and_a_verified_chain(auditor, ds_owner, prod_request):
    client = client_for(auditor)
    html = client.get("/governance/audit/?action=promotion.submit").content.decode()
    table = html[html.index('id="audit-table"'):]
    assert 'data-action="promotion.submit"' in table and 'data-action="registry.model.create"' not in table
    assert "dana submitted request #" in table and "credit-scoring v1 → Prod; every gate passed" in table
    verified = client.get("/governance/audit/verify/", **HTMX).content.decode()
    assert "Chain intact" in verified
    assert client_for(ds_owner).get("/governance/audit/").status_code == 403


def test_it_offers_csv_and_json_exports_with_the_same_filters(auditor, prod_request):
    import re
    from html import unescape

    client = client_for(auditor)
    html = client.get("/governance/audit/?action=promotion&model=credit-scoring&date_from=2000-01-01").content.decode()
    links = [unescape(h) for h in re.findall(r'href="(/api/v1/audit/export/[^"]+)"', html)]
    assert len(links) == 2 and all("action_prefix=promotion" in h and "since=2000-01-01T00" in h for h in links)
    csv = client.get(next(h for h in links if "file_format=csv" in h))
    assert csv.status_code == 200
    body = b"".join(csv.streaming_content) if csv.streaming else csv.content
    assert b"promotion.submit" in body and b"registry.model.create" not in body
    today = __import__("django.utils.timezone", fromlist=["now"]).now().date().isoformat()
    assert csv["Content-Disposition"] == (
        f'attachment; filename="modelgate-audit_model-credit-scoring_action-prefix-promotion_since-2000-01-01_{today}.csv"')


def test_it_alerts_the_owner_on_the_home_page_when_a_prod_review_is_overdue(ds_owner, outsider, prod_request):
    import datetime

    model, _, _ = prod_request
    Deployment.objects.filter(registered_model=model, environment__slug="uat").update(review_by=datetime.date(2020, 1, 1))
    html = client_for(ds_owner).get("/").content.decode()
    assert "Alerts on your models" in html and "review overdue" in html
    assert "review overdue" not in client_for(outsider).get("/").content.decode()


# A page of requests, whatever the number of rows: session, user, user perms, group perms,
# role groups, COUNT, the page (request, version, model, team, environment, requester),
# approvals of the page (with users), environments for the filter, the page's models'
# inventory records and the tier requirements (effective approver roles), and the inbox (tier requirements,
# environments, pending requests, their approvals, their models' inventory records).
def test_it_lists_requests_in_a_constant_number_of_queries(approver, ds_owner, team_credit, django_assert_num_queries):
    from registry.models import ModelVersion

    def add_requests(count, start):
        model, (mv,) = make_model(ds_owner, team_credit, f"bulk-{start}", artifact=None)
        PromotionRequest.objects.bulk_create(
            [PromotionRequest(version=mv, environment=environments()["prod"], requested_by=ds_owner, state="pending",
                              evidence={"submitted": {"gates": [{"kind": "metric_threshold", "passed": True}]}})
             for _ in range(count)]
        )
        return ModelVersion.objects.get(pk=mv.pk)

    client = client_for(approver)
    add_requests(5, 0)
    client.get("/governance/requests/")  # warm process-wide caches (content types)
    # Role names and permissions come from the cache (modelgate/core/authz_cache.py), not queries.
    with django_assert_num_queries(13):
        assert client.get("/governance/requests/").status_code == 200
    add_requests(495, 1)
    with django_assert_num_queries(13):
        html = client.get("/governance/requests/?page=2").content.decode()
    assert "Page 2 of 20" in html


def test_it_lists_the_audit_trail_in_a_constant_number_of_queries(auditor, ds_owner, team_credit, django_assert_num_queries):
    from modelgate.core import audit

    client = client_for(auditor)
    for i in range(5):
        audit.record(action="test.event", object_type="x", object_id=str(i), model_name="m")
    client.get("/governance/audit/")
    # session, user, COUNT, the page of events (roles and permissions come from the cache)
    with django_assert_num_queries(4):
        assert client.get("/governance/audit/").status_code == 200
    for i in range(495):
        audit.record(action="test.event", object_type="x", object_id=str(i), model_name="m")
    with django_assert_num_queries(4):
        html = client.get("/governance/audit/?page=3").content.decode()
    assert "Page 3 of" in html


def test_it_lets_a_risk_officer_accept_a_justified_gate_override(ds_owner, mle_teammate, team_credit, risk, approver):
    from tests.portal.conftest import INPUT_SCHEMA, walk_to_prod_request

    schema = {**INPUT_SCHEMA, "properties": {**INPUT_SCHEMA["properties"], "gender": {"type": "string"}}}
    _, _, req = walk_to_prod_request(ds_owner, mle_teammate, team_credit, input_schema=schema,
                                     justification="Gender is used only to monitor fairness, never to score")
    req.refresh_from_db()
    assert req.override_state == "pending"
    page = client_for(approver).get(f"/governance/requests/{req.pk}/").content.decode()
    assert "Gate override requested" in page and 'id="override-form"' not in page
    assert client_for(approver).post(f"/governance/requests/{req.pk}/override/", {"decision": "approve", "comment": "x"}).status_code == 403

    client = client_for(risk)
    page = client.get(f"/governance/requests/{req.pk}/").content.decode()
    assert 'id="override-form"' in page and "gate-review" in page
    response = client.post(f"/governance/requests/{req.pk}/override/", {"decision": "approve", "comment": "Monitoring use only"}, follow=True)
    assert "You accepted the justification" in response.content.decode()
    req.refresh_from_db()
    assert req.override_state == "approved" and req.override_decided_by == risk


def test_it_lets_the_owning_ml_engineer_roll_back_and_refuses_others(ds_owner, mle_teammate, team_credit, approver):
    from governance import services as gov

    model, (v1, v2) = make_model(ds_owner, team_credit, "rollme", versions=2)
    dev = environments()["dev"]
    gov.deployment_create_direct(user=ds_owner, version=v1, environment=dev)
    current = gov.deployment_create_direct(user=ds_owner, version=v2, environment=dev)

    assert "Roll back" not in client_for(ds_owner).get(f"/registry/models/{model.name}/").content.decode()  # role lacks it
    assert client_for(ds_owner).post(f"/governance/deployments/{current.pk}/rollback/").status_code == 403
    assert client_for(approver).post(f"/governance/deployments/{current.pk}/rollback/").status_code == 403

    client = client_for(mle_teammate)
    assert "Roll back" in client.get(f"/registry/models/{model.name}/").content.decode()
    response = client.post(f"/governance/deployments/{current.pk}/rollback/", follow=True)
    assert "rolled back to v1" in response.content.decode()
    active = Deployment.objects.get(registered_model=model, environment=dev, status="active")
    assert [s.version.version for s in active.splits.all()] == [1]


def test_it_shows_open_sla_alerts_on_my_models_on_the_home_page(ds_owner, outsider, team_credit):
    from governance import services as gov
    from monitoring.telemetry.models import Alert, SlaRule

    model, (mv,) = make_model(ds_owner, team_credit)
    deployment = gov.deployment_create_direct(user=ds_owner, version=mv, environment=environments()["dev"])
    rule = SlaRule.objects.create(deployment=deployment, name="p95 under 200 ms", metric="latency_p95", threshold=200, owner=ds_owner)
    Alert.objects.create(rule=rule, deployment=deployment, severity="critical", summary="p95 latency 480 ms > 200 ms")
    html = client_for(ds_owner).get("/").content.decode()
    assert "p95 latency 480 ms &gt; 200 ms" in html and f"/monitoring/sla/deployments/{deployment.pk}/" in html
    assert "480 ms" not in client_for(outsider).get("/").content.decode()


def test_it_builds_the_inbox_in_a_constant_number_of_queries(approver, ds_owner, team_credit, django_assert_num_queries):
    def add_requests(count, name):
        _, (mv,) = make_model(ds_owner, team_credit, name, artifact=None)
        PromotionRequest.objects.bulk_create(
            [PromotionRequest(version=mv, environment=environments()["prod"], requested_by=ds_owner, state="pending")
             for _ in range(count)]
        )

    client = client_for(approver)
    add_requests(5, "inbox-a")
    client.get("/")
    with django_assert_num_queries(HOME_QUERIES):
        client.get("/")
    add_requests(495, "inbox-b")
    with django_assert_num_queries(HOME_QUERIES):
        html = client.get("/").content.decode()
    assert html.count("/governance/requests/") >= 20


# session, user, teams, recent activity (role names and permissions from the cache), governance alerts
# (overdue deployments, stale approvals), inbox (tier requirements, environments, pending
# requests with their approvals, their models' inventory records), my open requests (their
# approvals only when there are some), decided by me, reviews due (their splits only when
# there are some), overrides waiting, open SLA alerts.
HOME_QUERIES = 16


def test_it_previews_the_gates_of_a_draft_so_the_requester_sees_what_blocks_it(ds_owner, team_credit):
    model, (mv,) = make_model(ds_owner, team_credit)
    client = client_for(ds_owner)
    client.post(f"/governance/versions/{mv.pk}/promote/", {"environment": "uat", "reason": "ready"})
    req = PromotionRequest.objects.get(version=mv)
    html = client.get(f"/governance/requests/{req.pk}/").content.decode()
    assert req.state == RequestState.DRAFT and "preview evaluated just now" in html
    assert 'class="gate-fail"' in html and "Required CI test results pass" in html and 'class="gate-pass"' in html
