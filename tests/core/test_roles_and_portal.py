from django.contrib.auth.models import Group
from django.test import Client

from modelgate.core import roles


def test_every_role_group_exists_after_migrate(db):
    assert set(Group.objects.filter(name__in=roles.ROLES).values_list("name", flat=True)) == set(roles.ROLES)


def test_auditor_reads_audit_events_but_cannot_add_tokens(auditor):
    assert auditor.has_perm("core.view_auditevent")
    assert not auditor.has_perm("core.add_apitoken")
    assert roles.is_read_only(auditor)


def test_the_login_page_renders_and_home_requires_login(db):
    client = Client()
    home = client.get("/")
    assert home.status_code == 302 and home["Location"].startswith("/accounts/login/")
    login = client.get("/accounts/login/")
    assert login.status_code == 200
    assert b"Log in to Modelgate" in login.content
    assert "script-src 'self'" in login["Content-Security-Policy"]


def test_a_user_logs_in_and_sees_their_roles(ds_owner):
    client = Client()
    response = client.post("/accounts/login/", {"username": "dana", "password": "pw-for-tests-only"}, follow=True)
    assert response.status_code == 200
    assert b"Data scientist" in response.content and b"Credit Risk" in response.content


def test_static_assets_are_served_locally(db):
    from django.contrib.staticfiles import finders

    for path in ("vendor/htmx/htmx.min.js", "vendor/pico/pico.min.css", "vendor/plotly/plotly-finance.min.js", "js/modelgate.js"):
        assert finders.find(path), path
