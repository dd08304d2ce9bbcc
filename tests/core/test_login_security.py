"""Login hardening: lockout after repeated failures (django-axes, counted in the database),
open redirects, session fixation, CSRF."""

import base64

import pytest
from axes.models import AccessAttempt
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.mlflow.helpers import MlflowApi

PROXY = "172.18.0.5"
PASSWORD = "pw-for-tests-only"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def locky(db):
    # A user of its own: other tests log "dana" in successfully.
    return UserFactory(username="locky")


def _login(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


def _fail(client, times, username="locky"):
    return [_login(client, username, "wrong").status_code for _ in range(times)]


def _basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _via_proxy(client_address):
    """A browser behind the deployment's proxy (TRUSTED_PROXY_COUNT=1): the proxy appended the address."""
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client_address}")


def test_it_locks_an_account_after_repeated_failures_even_with_the_right_password(locky):
    client = Client()
    # Nine plain refusals; the tenth failure locks (and says so).
    assert _fail(client, 10) == [200] * 9 + [429]

    locked = _login(client, "locky", PASSWORD)

    assert locked.status_code == 429
    assert b"locked" in locked.content and b"15 minutes" in locked.content
    assert "_auth_user_id" not in client.session


def test_the_lock_ends_after_the_cool_off(locky, settings):
    from datetime import timedelta

    _fail(Client(), 10)
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert _login(Client(), "locky", PASSWORD).status_code == 302


def test_a_successful_login_clears_the_failure_count(ds_owner):
    client = Client()
    _fail(client, 5, "dana")
    assert _login(client, "dana", PASSWORD).status_code == 302
    client.logout()
    _fail(client, 5, "dana")
    assert _login(client, "dana", PASSWORD).status_code == 302


def test_failures_are_stored_in_the_database_against_the_user_and_the_client_behind_the_proxy(locky, settings):
    # Counted per proxy address, anyone's failures would lock everyone out.
    settings.TRUSTED_PROXY_COUNT = 1

    assert _login(_via_proxy("203.0.113.9"), "locky", "wrong").status_code == 200

    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == ("locky", "203.0.113.9", 1)
    assert PASSWORD not in attempt.post_data and "wrong" not in attempt.post_data


def test_a_lock_on_one_address_does_not_lock_the_user_out_from_another(locky, settings):
    # Nobody can lock an administrator out by failing from elsewhere.
    settings.TRUSTED_PROXY_COUNT = 1
    _fail(_via_proxy("203.0.113.9"), 10)

    assert _login(_via_proxy("203.0.113.9"), "locky", PASSWORD).status_code == 429
    assert _login(_via_proxy("198.51.100.1"), "locky", PASSWORD).status_code == 302


def test_the_rest_api_answers_429_in_the_envelope_for_a_locked_basic_login(locky):
    _fail(Client(), 10)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=_basic("locky", PASSWORD))

    response = client.get("/api/v1/me/")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert "locked" in response.json()["error"]["message"]
    assert response["Retry-After"] == "900"


def test_basic_auth_failures_count_towards_the_portal_lock(locky):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=_basic("locky", "wrong"))
    statuses = [client.get("/api/v1/me/").status_code for _ in range(10)]

    assert statuses == [401] * 9 + [429]
    assert _login(Client(), "locky", PASSWORD).status_code == 429


def test_a_locked_mlflow_client_gets_429_request_limit_exceeded(locky):
    wrong = MlflowApi(basic=("locky", "wrong"))
    statuses = [wrong.get("registered-models/search")[0] for _ in range(10)]
    assert statuses == [401] * 9 + [429]

    status, body = MlflowApi(basic=("locky", PASSWORD)).get("registered-models/search")

    # As MLflow's server answers a rate limit (ERROR_CODE_TO_HTTP_STATUS): 429 REQUEST_LIMIT_EXCEEDED.
    assert status == 429
    assert body["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert "locked" in body["message"]


def test_an_admin_unlocks_an_account_in_the_admin(locky, admin_user):
    _fail(Client(), 10)
    assert _login(Client(), "locky", PASSWORD).status_code == 429
    admin_user.is_staff = True
    admin_user.save()
    admin = Client()
    admin.force_login(admin_user)
    attempt = AccessAttempt.objects.get(username="locky")

    page = admin.get("/admin/axes/accessattempt/?q=locky")
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200 and b"locky" in page.content
    assert response.status_code == 302
    assert _login(Client(), "locky", PASSWORD).status_code == 302


def test_an_auditor_sees_lockouts_but_cannot_unlock(locky, auditor):
    _fail(Client(), 10)
    auditor.is_staff = True
    auditor.save()
    client = Client()
    client.force_login(auditor)
    attempt = AccessAttempt.objects.get(username="locky")

    page = client.get("/admin/axes/accessattempt/")
    refused = client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200 and b"locky" in page.content
    assert refused.status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_it_does_not_redirect_to_another_host_after_login(ds_owner):
    response = _login(Client(), "dana", PASSWORD, next="https://evil.example/steal")
    assert response.status_code == 302
    assert response["Location"] == "/"
    for sneaky in ("//evil.example/", "/\\evil.example", "https:evil.example"):
        location = _login(Client(), "dana", PASSWORD, next=sneaky)["Location"]
        assert "evil.example" not in location, sneaky


def test_it_rotates_the_session_key_on_login(ds_owner):
    client = Client()
    client.get("/accounts/login/")
    session = client.session
    session["planted"] = "by-attacker"
    session.save()
    planted_key = session.session_key
    client.cookies["sessionid"] = planted_key

    _login(client, "dana", PASSWORD)

    assert client.cookies["sessionid"].value != planted_key


def test_it_refuses_a_login_post_without_csrf_token(ds_owner):
    client = Client(enforce_csrf_checks=True)
    response = _login(client, "dana", PASSWORD)
    assert response.status_code == 403
