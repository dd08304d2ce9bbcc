"""The audit trail in sentences with an action dropdown; sign-ins in the chain; downloads and
failed sign-ins in the access log outside it, shown to auditors and exportable."""

import re

import pytest
from django.test import Client

from governance import services as gov
from modelgate.core import audit
from modelgate.core.models import AccessLog, AuditEvent
from modelgate.core.sentences import sentence
from tests.factories import UserFactory
from tests.portal.conftest import client_for

PASSWORD = "pw-for-tests-only"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_it_writes_an_approval_as_a_sentence_with_the_comment(approver, prod_request):
    _, _, req = prod_request
    gov.promotion_request_approve(user=approver, request=req, comment="Reviewed the evidence")
    event = AuditEvent.objects.get(action="promotion.approve", actor_username="bea")
    assert sentence(event) == "bea approved credit-scoring v1 for Prod as business approver: “Reviewed the evidence”"


def test_it_credits_events_without_a_person_to_system(prod_request):
    _, _, req = prod_request
    gov.promotion_request_expire(request=req, reason="approval too old")
    event = AuditEvent.objects.get(action="promotion.expire")
    assert sentence(event).startswith("system expired request #")


def test_an_unknown_action_still_reads_as_a_sentence(ds_owner):
    event = audit.record(action="someapp.widget.polish", object_repr="widget 7", actor=ds_owner, changes={"shine": {"before": 1, "after": 2}})
    assert sentence(event) == "dana polish widget 7 (Shine 2)"


def test_the_auditor_filters_by_a_dropdown_and_reads_sentences(auditor, approver, prod_request):
    _, _, req = prod_request
    gov.promotion_request_approve(user=approver, request=req, comment="Pricing reviewed")
    html = client_for(auditor).get("/governance/audit/?action=promotion.approve").content.decode()
    select = re.search(r'<select name="action" id="action-filter">.*?</select>', html, re.S).group(0)
    assert '<optgroup label="Promotion requests">' in select and '<option value="promotion.">All: promotion requests</option>' in select
    assert '<option value="promotion.approve" selected>Approved a promotion request</option>' in select
    assert '<optgroup label="Sign-ins">' in select
    table = html[html.index('id="audit-table"'):]
    assert table.count('<tr data-action="promotion.approve">') == 2 and "<tr data-action=\"promotion.approved" not in table
    assert "mel approved credit-scoring v1 for UAT as ml engineer: “UAT looks good”" in table
    assert "bea approved credit-scoring v1 for Prod as business approver: “Pricing reviewed”" in table


def test_sign_ins_and_sign_outs_go_into_the_chain_and_failures_do_not(ds_owner):
    client = Client()
    assert client.post("/accounts/login/", {"username": "dana", "password": "wrong"}).status_code == 200
    assert not AuditEvent.objects.filter(action__startswith="auth.").exists()
    assert client.post("/accounts/login/", {"username": "dana", "password": PASSWORD}).status_code == 302
    client.post("/accounts/logout/")
    events = list(AuditEvent.objects.filter(action__startswith="auth.").order_by("id"))
    assert [(e.action, e.actor_username) for e in events] == [("auth.login", "dana"), ("auth.logout", "dana")]
    assert sentence(events[0]).startswith("dana logged in") and sentence(events[1]) == "dana logged out"
    assert audit.verify_chain().ok
    from axes.models import AccessFailureLog

    assert AccessFailureLog.objects.filter(username="dana").count() == 1


def test_downloads_go_to_the_access_log_not_the_chain(auditor, ds_owner, credit_model):
    model, (mv,) = credit_model
    before = AuditEvent.objects.count()
    response = client_for(ds_owner).get(f"/api/v1/models/{model.name}/versions/1/artifacts/model/model.skops")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    assert AuditEvent.objects.count() == before + 1  # only force_login's sign-in, no download event
    entry = AccessLog.objects.get()
    assert (entry.actor_username, entry.kind, entry.model_name, entry.detail["path"]) == ("dana", "artifact", model.name, "model/model.skops")

    Client().post("/accounts/login/", {"username": "dana", "password": "nope"})
    client = client_for(auditor)
    html = client.get("/governance/access-log/?model=credit-scoring").content.decode()
    downloads = html[html.index('id="downloads-table"'):html.index('id="failures-title"')]
    assert "credit-scoring v1: model/model.skops" in downloads and "dana" in downloads
    assert 'id="failed-logins-table"' in html and ">dana<" in html[html.index('id="failed-logins-table"'):]
    export = client.get("/governance/access-log/downloads.csv?model=credit-scoring")
    assert export["Content-Disposition"].startswith('attachment; filename="modelgate-downloads_model-credit-scoring_')
    body = b"".join(export.streaming_content).decode()
    assert body.splitlines()[0].startswith("id,created_at,actor_username") and "model/model.skops" in body


def test_the_access_log_is_for_auditors_only(ds_owner):
    assert client_for(ds_owner).get("/governance/access-log/").status_code == 403
    assert client_for(ds_owner).get("/governance/access-log/downloads.csv").status_code == 403


def test_a_user_with_no_audit_role_gets_no_extra_events_from_reading(db):
    user = UserFactory(username="nobody", roles=[])
    client_for(user).get("/")
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["auth.login"]
