"""Single sign-on through a real OpenID provider, in a real browser.

Two real processes: the identity provider (django-oidc-provider in its own small Django
project, tests/idp/, with its own database) and Modelgate under gunicorn configured
only by environment variables, as an operator would (OIDC_ISSUER, client id and secret,
OIDC_ROLE_MAP, OIDC_TEAM_MAP), sharing this test's database. Chromium follows every
redirect: Modelgate → provider login → callback → portal; logout at the provider; a
directory change taking effect at the next sign-in; a forged ``state`` refused.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from modelgate.core import roles
from modelgate.core.models import AuditEvent, IdpMembership, SsoIdentity
from tests.conftest import subprocess_database_url

pytestmark = [
    pytest.mark.browser,
    pytest.mark.once,  # two servers and a browser: once per CI run, in the PostgreSQL + Redis run
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("sso-live"),
]

ROOT = Path(__file__).resolve().parents[2]
MODELGATE = "http://127.0.0.1:8242"  # this helper's port range; the provider on another host name,
IDP = "http://localhost:8243"  # so the two never share cookies
CLIENT_ID, CLIENT_SECRET = "modelgate", "test-client-secret-for-the-sso-test"


def _start(command, env, log_path, ready_url):
    log = open(log_path, "w")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"{command[2]} exited early: {Path(log_path).read_text()[-2000:]}")
            try:
                if requests.get(ready_url, timeout=5).status_code == 200:
                    return proc
            except requests.RequestException:  # not listening yet, or still starting
                time.sleep(0.3)
        pytest.fail(f"{ready_url} did not answer within 60 s; see {log_path}")
    except BaseException:
        _stop(proc)
        raise


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class Directory:
    """The provider's accounts and groups, changed the way a directory administrator would."""

    def __init__(self, env):
        self.env = env

    def manage(self, *args):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True,
                       timeout=120)

    def set_user(self, username, password, groups):
        self.manage("idp_user", username, "--password", password, "--groups", ",".join(groups))


@pytest.fixture
def directory(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="tests.idp.settings", IDP_DATABASE=str(tmp_path / "idp.sqlite3"), IDP_SITE_URL=IDP)
    idp = Directory(env)
    idp.manage("idp_setup", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
               "--redirect-uri", f"{MODELGATE}/accounts/oidc/callback/", "--post-logout-uri", f"{MODELGATE}/accounts/login/")
    proc = _start([sys.executable, "-m", "gunicorn", "tests.idp.wsgi", "--bind", "127.0.0.1:8243", "--workers", "1"],
                  env, tmp_path / "idp.log", f"{IDP}/openid/.well-known/openid-configuration")
    yield idp
    _stop(proc)


@pytest.fixture
def modelgate(directory, team_credit, tmp_path):
    """Modelgate under gunicorn on this test's database, single sign-on configured by environment only."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=subprocess_database_url(), SECRET_KEY="sso-test-secret-key", DEBUG="false", SECURE_COOKIES="false",
        MODELGATE_VAR_DIR=str(tmp_path / "var"), ARTIFACT_STORE=str(tmp_path / "artifacts"),
        OIDC_ISSUER=f"{IDP}/openid", OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET=CLIENT_SECRET,
        OIDC_SCOPES="openid email profile groups",
        OIDC_ROLE_MAP="mg-risk=risk_officer,mg-scientists=data_scientist", OIDC_TEAM_MAP="credit-analytics=credit",
        PASSWORD_LOGIN="false", BREAK_GLASS_USERS="ada",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the production settings module, configured by environment only
    proc = _start([sys.executable, "-m", "gunicorn", "-c", "python:modelgate.gunicorn", "modelgate.wsgi",
                   "--bind", "127.0.0.1:8242", "--workers", "1", "--threads", "4"],
                  env, tmp_path / "modelgate.log", f"{MODELGATE}/healthz")
    yield MODELGATE
    _stop(proc)


def sign_in(page, username, password):
    page.goto(f"{MODELGATE}/accounts/login/")
    page.click("#sso-login")
    page.wait_for_url(f"{IDP}/accounts/login/**")
    page.fill("#idp-username", username)
    page.fill("#idp-password", password)
    page.click("#idp-sign-in")
    page.wait_for_url(f"{MODELGATE}/")


def log_out(page):
    page.click("text=Log out")
    page.wait_for_url(f"{MODELGATE}/accounts/login/")


def test_sso_sign_in_maps_groups_follows_directory_changes_and_refuses_a_forged_state(modelgate, directory, page):
    directory.set_user("grace", "grace-idp-pass", ["mg-risk", "credit-analytics"])
    authorize_requests = []
    page.on("request", lambda r: authorize_requests.append(r.url) if r.url.startswith(f"{IDP}/openid/authorize") else None)

    # 1. First sign-in: the account is created, roles and team come from the groups claim.
    sign_in(page, "grace", "grace-idp-pass")
    home = page.content()
    assert "Risk officer" in home and "Credit Risk" in home
    query = parse_qs(urlsplit(authorize_requests[0]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43  # PKCE
    assert query["state"][0] and query["nonce"][0] and query["scope"] == ["openid email profile groups"]
    identity = SsoIdentity.objects.select_related("user").get(issuer=f"{IDP}/openid")
    grace = identity.user
    assert grace.username == "grace" and not grace.has_usable_password()
    assert set(IdpMembership.objects.filter(user=grace).values_list("claim_value", flat=True)) == {"mg-risk", "credit-analytics"}

    # 2. The directory moves her from risk to the scientists; it takes effect at her next sign-in.
    directory.set_user("grace", "grace-idp-pass", ["mg-scientists", "credit-analytics"])
    assert roles.RISK_OFFICER in set(grace.groups.values_list("name", flat=True))  # not before
    log_out(page)  # ends the provider's session too: the next sign-in asks for the password again
    sign_in(page, "grace", "grace-idp-pass")
    home = page.content()
    assert "Data scientist" in home and "Risk officer" not in home
    assert set(grace.groups.values_list("name", flat=True)) == {roles.DATA_SCIENTIST, "team:credit"}
    revoked = AuditEvent.objects.get(action="user.revoke_role", source="sso")
    assert revoked.changes["roles"] == {"before": "risk_officer", "after": None} and revoked.object_repr == "grace"
    assert AuditEvent.objects.filter(action="auth.sso_login", actor_username="grace").count() == 2

    # 3. A forged state is refused, even with a real, unused code: the provider is asked to send
    # back a state this browser was never given (as a login-CSRF attacker would), and signs her in.
    log_out(page)
    page.goto(f"{MODELGATE}/accounts/login/")
    page.click("#sso-login")
    page.wait_for_url(f"{IDP}/accounts/login/**")
    page.eval_on_selector("input[name=next]", "el => el.value = el.value.replace(/state=[^&]+/, 'state=forged-by-attacker')")
    page.fill("#idp-username", "grace")
    page.fill("#idp-password", "grace-idp-pass")
    with page.expect_response(lambda r: r.url.startswith(f"{MODELGATE}/accounts/oidc/callback/")) as callback:
        page.click("#idp-sign-in")
    assert "state=forged-by-attacker" in callback.value.url and "code=" in callback.value.url
    assert callback.value.status == 400
    page.goto(f"{MODELGATE}/")
    assert page.url.startswith(f"{MODELGATE}/accounts/login/")  # not signed in
    assert AuditEvent.objects.filter(action="auth.sso_login").count() == 2


def test_password_login_off_leaves_only_break_glass_on_the_web(modelgate, admin_user, ds_owner, page):
    page.goto(f"{MODELGATE}/accounts/login/")
    assert page.is_visible("#sso-login")
    page.click("summary")  # the break-glass form is folded away
    page.fill("#id_username", "dana")
    page.fill("#id_password", "pw-for-tests-only")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Password sign-in is turned off here: sign in with single sign-on." in page.inner_text("main")
    page.click("summary")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    page.wait_for_url(f"{MODELGATE}/")
    assert AuditEvent.objects.filter(action="auth.break_glass_login", actor_username="ada").count() == 1
