#!/usr/bin/env python3
"""Take the README's portal screenshots from the demo data, in Debian's headless Chromium.

    make seed && make serve            # in one terminal (demo data on http://127.0.0.1:8000)
    .venv/bin/python scripts/screenshots.py --base-url http://127.0.0.1:8000 --out docs/screenshots

Logs in as the demo users (passwords printed by ``seed_demo``: ``<username>-demo-pass``)
and saves: an approver's inbox, the decision page of the request waiting there, the model
catalog, a version page (with its report charts), the auditor's trail, the SLA dashboard,
the model-risk dashboard and the admin's people page. A page whose
demo data does not exist yet is skipped with a note rather than failing the others.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def login(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"{username}-demo-pass")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def settle(page) -> None:
    """Wait for HTMX, then scroll through the page so every chart comes into view and is drawn
    (modelgate.js draws a chart only then), and wait for plotly to finish them all."""
    page.wait_for_load_state("networkidle")
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height + 600, 600):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(50)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-plotly-figure]'))"
        ".every(el => el.offsetParent === null || el.dataset.drawn === '1')", timeout=30_000)
    page.wait_for_timeout(300)


def shoot(page, out: Path, name: str, note: list[str], full_page: bool = True) -> None:
    settle(page)
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    note.append(f"saved {path}")


def _version_with_reports(page, base: str, limit: int = 12) -> str | None:
    """The first version page (newest first, per model) whose report tabs have a report; else the first version."""
    models = [a.get_attribute("href") for a in page.locator("#model-table tbody tr td:first-child a").all()]
    first = None
    for href in models:
        page.goto(f"{base}{href}")
        versions = [a.get_attribute("href") for a in page.locator("table a[href*='/versions/']").all()][:limit]
        for url in versions:
            first = first or f"{base}{url}"
            page.goto(f"{base}{url}")
            if page.locator("[role=tab] .badge-succeeded").count():
                return f"{base}{url}"
    return first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/screenshots", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    args.out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        try:
            page.goto(f"{base}/healthz")
        except PlaywrightError:
            print(f"No Modelgate at {base}: start it with `make demo` first.", file=sys.stderr)
            return 2

        # An approver's inbox (the first of bea, rick, mel with something waiting), then that request.
        for approver in ("bea", "rick", "mel"):
            login(page, base, approver)
            if page.locator("#waiting-table a").count():
                break
        shoot(page, args.out, "inbox", notes)
        first = page.locator("#waiting-table a").first
        if first.count():
            first.click()
            shoot(page, args.out, "promotion-request", notes)
        else:
            notes.append("skipped promotion-request: nothing waits for an approver in the demo data")

        # The data scientist: the catalog and the newest version of the first model with reports.
        login(page, base, "dana")
        page.goto(f"{base}/registry/models/")
        shoot(page, args.out, "catalog", notes)
        version_url = _version_with_reports(page, base)
        if version_url:
            page.goto(version_url)
            shoot(page, args.out, "version", notes)
        else:
            notes.append("skipped version: no models (run `make seed`)")

        # The auditor: trail with a verified chain.
        login(page, base, "audrey")
        page.goto(f"{base}/governance/audit/")
        page.get_by_role("button", name="Verify the hash chain now").click()
        page.locator("#chain-result .badge").wait_for()
        shoot(page, args.out, "audit", notes, full_page=False)  # the first screenful; the trail is long

        # The SLA dashboard (risk officer sees every team).
        login(page, base, "rick")
        response = page.goto(f"{base}/monitoring/sla/")
        if response is not None and response.ok:
            dashboard = page.locator("a[href*='/monitoring/sla/deployments/']").first
            if dashboard.count():
                dashboard.click()
            shoot(page, args.out, "dashboard", notes)
        else:
            notes.append("skipped dashboard: /monitoring/sla/ is not available")

        # Model risk: inventory, validations and findings due (the risk officer sees every team).
        page.goto(f"{base}/governance/model-risk/")
        shoot(page, args.out, "model-risk", notes, full_page=False)

        # The admin's people page: teams, members, roles, who comes from single sign-on.
        login(page, base, "ada")
        page.goto(f"{base}/people/")
        shoot(page, args.out, "people", notes, full_page=False)
        browser.close()

    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
