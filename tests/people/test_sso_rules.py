"""Single sign-on rules without a browser: sign-in sync (sso_sign_in), IdP-managed versus
manual memberships, the idle-token rule and PASSWORD_LOGIN=false on both login paths.
The full redirect flow against a real provider is tests/people/test_sso_browser.py."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from modelgate.core import roles
from modelgate.core.models import AuditEvent, IdpMembership, SsoIdentity, Team
from modelgate.core.services import token_create
from modelgate.core.sso import sso_sign_in
from tests.factories import UserFactory
from tests.mlflow.helpers import MlflowApi

ISSUER = "https://idp.example.test/realms/bank"


@pytest.fixture
def sso_settings(settings, db):
    settings.SSO_ENABLED = True
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_ROLE_MAP = [("mg-scientists", roles.DATA_SCIENTIST), ("mg-approvers", roles.BUSINESS_APPROVER),
                              ("mg-risk", roles.RISK_OFFICER)]
    settings.OIDC_TEAM_MAP = [("credit-analytics", "credit"), ("fraud-analytics", "fraud")]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def claims(groups, sub="0f3c-77", **extra):
    return {"sub": sub, "preferred_username": "grace", "email": "grace@bank.test", "given_name": "Grace",
            "family_name": "Hopper", "groups": groups, **extra}


def _groups(user):
    return set(user.groups.values_list("name", flat=True))


def test_first_sign_in_creates_the_user_with_mapped_roles_and_teams(sso_settings, team_credit):
    user = sso_sign_in(issuer=ISSUER, claims=claims(["mg-scientists", "credit-analytics", "unrelated"]))
    assert (user.username, user.email, user.get_full_name()) == ("grace", "grace@bank.test", "Grace Hopper")
    assert not user.has_usable_password()
    assert _groups(user) == {roles.DATA_SCIENTIST, "team:credit"}
    assert set(IdpMembership.objects.filter(user=user).values_list("claim_value", flat=True)) == {"mg-scientists", "credit-analytics"}
    assert SsoIdentity.objects.get(user=user).subject == "0f3c-77"
    events = AuditEvent.objects.filter(source="sso")
    assert [e.action for e in events] == ["user.create", "user.grant_role", "team.add_member", "auth.sso_login"]
    grant = events.get(action="user.grant_role")
    assert grant.changes == {"roles": {"before": None, "after": "data_scientist"},
                             "source": {"before": None, "after": "identity provider (mg-scientists)"}}
    assert events.get(action="auth.sso_login").changes == {"groups": {"before": None, "after": ["credit-analytics", "mg-scientists", "unrelated"]}}


def test_each_sign_in_reapplies_the_map_and_keeps_manual_memberships(sso_settings, team_credit, team_fraud):
    user = sso_sign_in(issuer=ISSUER, claims=claims(["mg-scientists", "mg-risk", "credit-analytics"]))
    # An administrator adds grace to fraud by hand, and she is also in the fraud directory group.
    from modelgate.core.services import team_add_member

    team_add_member(team=team_fraud, user=user)
    again = sso_sign_in(issuer=ISSUER, claims=claims(["mg-scientists", "fraud-analytics"]))
    assert again.pk == user.pk
    # mg-risk and credit-analytics left the directory: gone; the manual fraud membership stays manual.
    assert _groups(again) == {roles.DATA_SCIENTIST, "team:fraud"}
    assert not IdpMembership.objects.filter(user=user, group=team_fraud.group).exists()
    removed = AuditEvent.objects.filter(source="sso", action__in=["user.revoke_role", "team.remove_member"])
    assert {e.action: e.changes["source"]["before"] for e in removed} == {"user.revoke_role": "identity provider",
                                                                         "team.remove_member": "identity provider"}
    # Out of every mapped group: directory memberships go, the manual one never does.
    sso_sign_in(issuer=ISSUER, claims=claims([]))
    assert _groups(user) == {"team:fraud"}


def test_a_mapped_team_that_does_not_exist_yet_is_created(sso_settings):
    user = sso_sign_in(issuer=ISSUER, claims=claims(["fraud-analytics"]))
    assert Team.objects.get(slug="fraud").group.user_set.get() == user


def test_a_directory_account_never_takes_over_a_local_one(sso_settings):
    local = UserFactory(username="grace", roles=[roles.ADMIN])
    user = sso_sign_in(issuer=ISSUER, claims=claims([]))
    assert user.pk != local.pk and user.username == "grace-sso"
    # The same subject signs in again: the same account; another issuer's subject: another one.
    assert sso_sign_in(issuer=ISSUER, claims=claims([])).pk == user.pk
    assert sso_sign_in(issuer="https://other.test", claims=claims([])).pk not in (user.pk, local.pk)


def test_a_deactivated_user_is_not_brought_back_by_the_directory(sso_settings):
    user = sso_sign_in(issuer=ISSUER, claims=claims(["mg-scientists"]))
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    again = sso_sign_in(issuer=ISSUER, claims=claims(["mg-scientists", "mg-approvers"]))
    assert not again.is_active and _groups(again) == {roles.DATA_SCIENTIST}


# --- API tokens and SSO_TOKEN_MAX_IDLE_DAYS -------------------------------------------


def test_a_token_pauses_when_its_sso_user_has_not_signed_in_for_too_long(sso_settings, team_credit):
    sso_settings.SSO_TOKEN_MAX_IDLE_DAYS = 30
    user = sso_sign_in(issuer=ISSUER, claims=claims(["mg-scientists", "credit-analytics"]))
    _, raw = token_create(user=user, name="ci")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get("/api/v1/tokens/").json()["results"][0]["paused"] == ""

    SsoIdentity.objects.filter(user=user).update(last_login_at=timezone.now() - timedelta(days=31))
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert "not signed in through single sign-on for 30 days" in refused.json()["error"]["message"]
    status, body = MlflowApi(basic=("grace", raw)).get("registered-models/search")
    assert status == 401
    # The token list (read in the portal's session) says so.
    browser = Client()
    browser.force_login(user)
    assert "Sign in to the portal once" in browser.get("/api/v1/tokens/").json()["results"][0]["paused"]

    sso_sign_in(issuer=ISSUER, claims=claims(["mg-scientists", "credit-analytics"]))  # signs in again
    assert client.get("/api/v1/me/").status_code == 200


def test_the_idle_rule_spares_local_accounts_and_can_be_turned_off(sso_settings, ds_owner):
    sso_settings.SSO_TOKEN_MAX_IDLE_DAYS = 30
    _, raw = token_create(user=ds_owner, name="ci")  # a local (service) account: no SSO identity
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me/").status_code == 200
    user = sso_sign_in(issuer=ISSUER, claims=claims([]))
    SsoIdentity.objects.filter(user=user).update(last_login_at=timezone.now() - timedelta(days=400))
    _, raw = token_create(user=user, name="ci")
    sso_settings.SSO_TOKEN_MAX_IDLE_DAYS = 0
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me/").status_code == 200


# --- PASSWORD_LOGIN=false and break-glass --------------------------------------------


def test_password_login_off_refuses_passwords_on_the_portal_and_the_admin(sso_settings, ds_owner, admin_user):
    sso_settings.PASSWORD_LOGIN = False
    sso_settings.BREAK_GLASS_USERS = []
    response = Client().post("/accounts/login/", {"username": "dana", "password": "pw-for-tests-only"})
    assert response.status_code == 200 and "_auth_user_id" not in response.wsgi_request.session
    assert b"Password sign-in is turned off here: sign in with single sign-on." in response.content
    admin = Client().post("/admin/login/", {"username": "ada", "password": "pw-for-tests-only"})
    assert admin.status_code == 200 and "_auth_user_id" not in admin.wsgi_request.session


def test_password_login_off_refuses_http_basic_passwords_but_not_tokens(sso_settings, ds_owner):
    sso_settings.PASSWORD_LOGIN = False
    sso_settings.BREAK_GLASS_USERS = ["dana"]  # break-glass is for the web only
    status, body = MlflowApi(basic=("dana", "pw-for-tests-only")).get("registered-models/search")
    assert status == 401 and "Password sign-in is turned off" in body["message"]
    rest = Client().get("/api/v1/me/", HTTP_AUTHORIZATION="Basic ZGFuYTpwdy1mb3ItdGVzdHMtb25seQ==")
    assert rest.status_code == 401
    _, raw = token_create(user=ds_owner, name="ci")
    status, _ = MlflowApi(basic=("dana", raw)).get("registered-models/search")
    assert status == 200


def test_break_glass_users_still_sign_in_on_the_web_audited_and_flagged(sso_settings, admin_user):
    sso_settings.PASSWORD_LOGIN = False
    sso_settings.BREAK_GLASS_USERS = ["ada"]
    client = Client()
    response = client.post("/accounts/login/", {"username": "ada", "password": "pw-for-tests-only"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.break_glass_login")
    assert (event.actor_username, event.changes) == ("ada", {"break_glass": {"before": None, "after": True}})
    page = client.get("/people/").content.decode()
    assert 'id="break-glass"' in page and "break-glass</span> ada" in page
    # With password login on, a password sign-in is ordinary: nothing flagged.
    sso_settings.PASSWORD_LOGIN = True
    Client().post("/accounts/login/", {"username": "ada", "password": "pw-for-tests-only"})
    assert AuditEvent.objects.filter(action="auth.break_glass_login").count() == 1


def test_a_role_map_naming_no_role_fails_the_system_check(sso_settings):
    from modelgate.core.sso import check_claim_maps

    assert check_claim_maps() == []
    sso_settings.OIDC_ROLE_MAP = [("mg-boss", "overlord")]
    (error,) = check_claim_maps()
    assert error.id == "modelgate.E101" and "'overlord', which is no role" in error.msg
