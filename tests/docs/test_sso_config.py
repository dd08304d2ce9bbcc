"""Every single sign-on variable the settings read is in .env.example and passed by
docker-compose; bad SSO configurations stop start-up with a message naming the variable."""

import re

from tests.conftest import ROOT
from tests.core.test_settings_and_health import _manage


def sso_variables() -> set[str]:
    settings = (ROOT / "modelgate" / "settings.py").read_text()
    section = settings[settings.index("# --- single sign-on"):settings.index("AUTH_PASSWORD_VALIDATORS")]
    return set(re.findall(r'env_\w+\("([A-Z_]+)"', section))


def test_env_example_and_compose_list_every_sso_variable():
    names = sso_variables()
    assert {"OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES", "OIDC_ROLE_MAP", "OIDC_TEAM_MAP",
            "SSO_TOKEN_MAX_IDLE_DAYS", "PASSWORD_LOGIN", "BREAK_GLASS_USERS"} <= names
    env_example = (ROOT / ".env.example").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    security = (ROOT / "docs" / "security.md").read_text()
    for name in sorted(names):
        assert re.search(rf"^#? ?{name}=", env_example, re.MULTILINE), f"{name} missing from .env.example"
        assert f"{name}: ${{{name}:-" in compose, f"{name} not passed by docker-compose.yml"
        assert f"`{name}`" in security, f"{name} not documented in docs/security.md"


def test_bad_sso_settings_stop_start_up_with_the_variable_named():
    secret = {"SECRET_KEY": "x" * 50}
    no_client = _manage("check", env=secret | {"OIDC_ISSUER": "https://idp.example.test"})
    assert no_client.returncode != 0 and "set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET" in no_client.stderr
    no_sso = _manage("check", env=secret | {"PASSWORD_LOGIN": "false"})
    assert no_sso.returncode != 0 and "PASSWORD_LOGIN=false needs single sign-on" in no_sso.stderr
    bad_map = _manage("check", env=secret | {"OIDC_ROLE_MAP": "mg-risk:risk_officer"})
    assert bad_map.returncode != 0 and "OIDC_ROLE_MAP must be comma-separated claim=value pairs" in bad_map.stderr
    sso = {"OIDC_ISSUER": "https://idp.example.test", "OIDC_CLIENT_ID": "mg", "OIDC_CLIENT_SECRET": "s"}
    unknown_role = _manage("check", env=secret | sso | {"OIDC_ROLE_MAP": "mg-boss=overlord"})
    assert unknown_role.returncode != 0 and "'overlord', which is no role" in unknown_role.stderr
    assert _manage("check", env=secret | sso | {"OIDC_ROLE_MAP": "mg-risk=risk_officer"}).returncode == 0
