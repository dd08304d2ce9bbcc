"""Every main page: no inline script (the CSP forbids them), a CSRF token in every POST
form, a label for every visible input, and the CSP header itself."""

import re

import pytest

from tests.portal.conftest import attach_fairness_dataset, client_for

SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.I | re.S)
INPUT = re.compile(r"<(?:input|select|textarea)\b[^>]*>", re.I)
LABEL = re.compile(r"<label\b[^>]*>(.*?)</label>", re.I | re.S)


@pytest.fixture
def pages(ds_owner, prod_request):
    model, mv, req = prod_request
    attach_fairness_dataset(ds_owner, mv)
    return [
        "/", "/registry/models/", f"/registry/models/{model.name}/", f"/registry/models/{model.name}/versions/1/",
        "/governance/requests/", f"/governance/requests/{req.pk}/",
    ]


@pytest.mark.parametrize("persona", ["ds_owner", "approver", "auditor"])
def test_it_serves_pages_without_inline_scripts_with_csrf_and_labels(request, persona, pages):
    user = request.getfixturevalue(persona)
    client = client_for(user)
    for url in [*pages, "/governance/audit/"] if persona == "auditor" else pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"]
        html = response.content.decode()
        for attrs in SCRIPT.findall(html):
            assert "src=" in attrs or 'type="application/json"' in attrs, (url, attrs)
        assert not INLINE_HANDLER.search(html), url
        assert "{#" not in html and "{%" not in html and "{{" not in html, url  # no template syntax leaks
        for body in FORM.findall(html):
            assert "csrfmiddlewaretoken" in body, url
        ids = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
        wrapped = "".join(LABEL.findall(html))
        for tag in INPUT.findall(html):
            if re.search(r'type="(hidden|submit)"', tag):
                continue
            field_id = re.search(r'\bid="([^"]+)"', tag)
            labelled = (field_id and field_id.group(1) in ids) or tag in wrapped or "aria-label" in tag
            assert labelled, (url, tag)


def test_it_sets_no_csrf_cookie_on_an_anonymous_404(db):
    """A browser's first visit fetches /favicon.ico beside the login page; if that 404 set a
    second CSRF cookie, the login form's token would no longer match (seen in the screenshots run)."""
    from django.test import Client

    response = Client().get("/favicon.ico")
    assert response.status_code == 404 and "csrftoken" not in response.cookies
    login = Client().get("/accounts/login/")
    assert "csrftoken" in login.cookies and 'rel="icon" href="data:,"' in login.content.decode()


def test_it_answers_a_signed_in_user_404_for_an_unknown_address(ds_owner):
    """An unknown URL has no resolver_match; the nav must still render (it was a 500)."""
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(ds_owner)
    response = client.get("/registry/no-such-page/")
    assert response.status_code == 404 and 'aria-current="page"' not in response.content.decode()
    assert 'aria-current="page">Models' in client.get("/registry/models/").content.decode()


def test_it_serves_swagger_uis_start_up_script_from_its_own_address(client, db):
    """Swagger UI's start-up script is a separate same-origin file (the CSP forbids inline scripts)."""
    html = client.get("/api/docs/").content.decode()
    assert '<script src="/api/docs/?script="' in html and "<script>" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode() and "/api/schema/" in script.content.decode()
