"""In a real browser: Swagger UI at /api/docs/ renders the operations list under the strict CSP
(no inline script: its start-up script comes from the same URL with ?script)."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]


def test_it_lists_the_api_operations_in_swagger_ui(page, live_server):
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: refused.append(str(exc)))

    response = page.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    # Swagger UI fetched /api/schema/ and drew one block per operation, grouped by tag.
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=20_000)
    assert operations.count() > 50
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/models/").first).to_be_visible()
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    assert refused == []

