import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from modelgate.core.models import ApiToken, AuditEvent
from modelgate.core.services import token_create, token_revoke


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_it_stores_only_the_hash_of_a_token(ds_owner):
    token, raw = token_create(user=ds_owner, name="ci")
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw.startswith("mg_") and len(raw) > 40
    assert raw not in (stored.key_hash, stored.key_prefix)
    assert stored.key_hash == ApiToken.hash_key(raw)


def test_it_authenticates_a_bearer_token_as_its_user(ds_owner):
    _, raw = token_create(user=ds_owner, name="ci")
    response = bearer(raw).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "dana"
    assert response.json()["roles"] == ["data_scientist"]
    assert response.json()["teams"] == ["credit"]


def test_it_refuses_a_revoked_token_with_401(ds_owner):
    token, raw = token_create(user=ds_owner, name="ci")
    assert bearer(raw).get("/api/v1/me/").status_code == 200
    token_revoke(token=token)

    response = bearer(raw).get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert "revoked" in response.json()["error"]["message"]


def test_it_refuses_an_unknown_token_and_anonymous_requests(db):
    assert bearer("mg_not-a-real-token").get("/api/v1/me/").status_code == 401
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_it_revokes_a_token_through_the_api_and_audits_it(ds_owner):
    client = bearer(token_create(user=ds_owner, name="ci")[1])
    created = client.post("/api/v1/tokens/", {"name": "deploy-bot"}, format="json")
    assert created.status_code == 201
    raw = created.json()["token"]

    revoked = client.post(f"/api/v1/tokens/{created.json()['id']}/revoke/")

    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert bearer(raw).get("/api/v1/me/").status_code == 401
    assert AuditEvent.objects.filter(action="token.revoke", object_id=str(created.json()["id"])).exists()
    assert raw not in str(list(AuditEvent.objects.values_list("changes", flat=True)))


def test_it_refuses_a_write_without_rights_with_403_and_changes_nothing(approver):
    # Business approvers act in the portal; they may not mint API tokens.
    client = bearer(token_create(user=approver, name="given-by-admin")[1])
    tokens_before = ApiToken.objects.count()
    events_before = AuditEvent.objects.count()

    response = client.post("/api/v1/tokens/", {"name": "sneaky"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert ApiToken.objects.count() == tokens_before
    assert AuditEvent.objects.count() == events_before


def test_it_hides_other_users_tokens_with_404(ds_owner, outsider):
    token, _ = token_create(user=ds_owner, name="mine")
    client = bearer(token_create(user=outsider, name="theirs")[1])
    assert client.post(f"/api/v1/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_create_token_command_prints_a_working_token_once(ds_owner, capsys):
    call_command("create_token", "dana", "--name", "ci-pipeline")
    raw = capsys.readouterr().out.strip()
    assert bearer(raw).get("/api/v1/me/").json()["username"] == "dana"
    assert ApiToken.objects.get(name="ci-pipeline").key_hash == ApiToken.hash_key(raw)


def test_create_token_command_rejects_an_unknown_user(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named"):
        call_command("create_token", "ghost")
