"""Login hardening: brute-force throttling, open redirects, session fixation, CSRF."""

import pytest
from django.core.cache import cache
from django.test import Client

from modelgate.core import login_throttle
from tests.factories import UserFactory

# The throttle counts in the shared cache (Redis on the PostgreSQL run): keep these tests on
# one xdist worker and clear only their own keys (never flush: Redis is also the broker).
pytestmark = pytest.mark.xdist_group("login-throttle")
ADDRESSES = ("127.0.0.1", "203.0.113.9", "198.51.100.1", "172.18.0.5", "6.6.6.6")


@pytest.fixture(autouse=True)
def _clean_throttle():
    def clear():
        for address in ADDRESSES:
            cache.delete(f"login-fail:ip:{address}")
        login_throttle.clear("dana")
        login_throttle.clear("locky")

    clear()
    yield
    clear()


def _login(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


def test_it_locks_an_account_after_repeated_failures_even_with_the_right_password(db):
    # A user of its own: other tests log "dana" in successfully, which clears her count.
    UserFactory(username="locky")
    client = Client()
    for _ in range(10):
        assert _login(client, "locky", "wrong").status_code == 200

    locked = _login(client, "locky", "pw-for-tests-only")

    assert locked.status_code == 429
    assert b"Too many failed attempts" in locked.content
    assert "_auth_user_id" not in client.session


def test_a_successful_login_clears_the_failure_count(ds_owner):
    client = Client()
    for _ in range(5):
        _login(client, "dana", "wrong")
    assert _login(client, "dana", "pw-for-tests-only").status_code == 302
    client.logout()
    for _ in range(5):
        _login(client, "dana", "wrong")
    assert _login(client, "dana", "pw-for-tests-only").status_code == 302


def test_it_does_not_redirect_to_another_host_after_login(ds_owner):
    response = _login(Client(), "dana", "pw-for-tests-only", next="https://evil.example/steal")
    assert response.status_code == 302
    assert response["Location"] == "/"
    for sneaky in ("//evil.example/", "/\\evil.example", "https:evil.example"):
        location = _login(Client(), "dana", "pw-for-tests-only", next=sneaky)["Location"]
        assert "evil.example" not in location, sneaky


def test_it_rotates_the_session_key_on_login(ds_owner):
    client = Client()
    client.get("/accounts/login/")
    session = client.session
    session["planted"] = "by-attacker"
    session.save()
    planted_key = session.session_key
    client.cookies["sessionid"] = planted_key

    _login(client, "dana", "pw-for-tests-only")

    assert client.cookies["sessionid"].value != planted_key


def test_it_refuses_a_login_post_without_csrf_token(ds_owner):
    client = Client(enforce_csrf_checks=True)
    response = _login(client, "dana", "pw-for-tests-only")
    assert response.status_code == 403


def test_http_basic_is_throttled_too(db):
    import base64

    from rest_framework.test import APIClient

    UserFactory(username="locky")
    for _ in range(10):
        login_throttle.record_failure("locky", "203.0.113.9")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"locky:pw-for-tests-only").decode())

    response = client.get("/api/v1/me/", REMOTE_ADDR="198.51.100.1")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"


def test_behind_the_proxy_failures_count_against_the_client_not_the_proxy(db, settings):
    # Counted per proxy address, 50 failures from anyone would lock everyone out.
    settings.TRUSTED_PROXY_COUNT = 1
    UserFactory(username="locky")
    client = Client(REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")

    assert client.post("/accounts/login/", {"username": "locky", "password": "wrong"}).status_code == 200

    assert cache.get("login-fail:ip:203.0.113.9") == 1
    assert cache.get("login-fail:ip:172.18.0.5") is None
    assert cache.get("login-fail:ip:6.6.6.6") is None
