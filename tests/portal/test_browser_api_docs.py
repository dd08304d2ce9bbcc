"""In a real browser: Swagger UI at /api/docs/ renders the operations list under the strict CSP
(no inline script: its start-up script comes from the same URL with ?script).

Swagger UI (5.3x) virtualizes the operations list once it has 150 rows or more (a row per tag
and per operation): only the rows near the viewport are in the DOM. So the test scrolls
through the page and collects every operation block it passes, then compares with the schema.
"""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def test_it_lists_the_api_operations_in_swagger_ui(page, live_server):
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: refused.append(str(exc)))

    schema = page.request.get(f"{live_server.url}/api/schema/?format=json").json()
    expected = sum(1 for item in schema["paths"].values() for method in item if method in METHODS)
    assert expected > 50

    response = page.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    # Swagger UI fetched /api/schema/ and drew one block per operation, grouped by tag.
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=20_000)
    expect(page.locator(".opblock-tag").first).to_be_visible()

    seen: set[str] = set()
    for _ in range(200):
        seen.update(page.locator(".opblock").evaluate_all("blocks => blocks.map(b => b.id)"))
        at_end = page.evaluate("() => window.innerHeight + window.scrollY >= document.body.scrollHeight - 2")
        if at_end and len(seen) >= expected:
            break
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(50)
    assert len(seen) == expected, f"{len(seen)} of {expected} operations drawn"
    # Blocks are named "operations-<tag>-<operationId>": the registry's and model risk's are among them.
    assert any(block_id.startswith("operations-models-") for block_id in seen)
    assert any(block_id.startswith("operations-model-risk-") for block_id in seen)
    assert refused == []
