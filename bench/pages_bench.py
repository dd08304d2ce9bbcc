#!/usr/bin/env python3
"""Portal page load times over the demo, with a warm browser cache (not run in CI).

    make seed && PORT=8023 make serve          # the demo, in another terminal
    .venv/bin/python bench/pages_bench.py --base-url http://127.0.0.1:8023 [--rounds 5] [--json bench/results/pages.json]

Drives Debian's headless Chromium through Playwright. Finds one page of every portal page
type in the demo by following its links (as dana, audrey and rick), opens each page once to
warm the cache, then ``--rounds`` more times and records, per page, the median and worst of:

- ``load``: the navigation's load event (``loadEventEnd`` of the Navigation Timing entry);
- ``charts``: until every chart in the first screenful is drawn (0 on pages without charts);
  charts drawn lazily after the load event count here, so deferring work cannot hide it;
- the bytes the page's resources took over the network (0 for cached ones) and the JSON
  embedded in the page (figures travel inside the HTML).

``baseline`` is the login page's median load in the same run; each page's ratio to it
absorbs some of a shared machine's noise. The target is every page's load under 1 s.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TARGET_MS = 1000

# Resolved in the page once it has loaded: timings of this navigation, and the first-screenful charts still undrawn.
MEASURE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const transferred = performance.getEntriesByType("resource").reduce((s, r) => s + (r.transferSize || 0), nav.transferSize || 0);
  const json = Array.from(document.querySelectorAll('script[type="application/json"]')).reduce((s, e) => s + e.textContent.length, 0);
  return {load: nav.loadEventEnd - nav.startTime, dcl: nav.domContentLoadedEventEnd - nav.startTime, transferred, json};
}"""
CHARTS_DRAWN = """() => {
  const inView = (el) => { const r = el.getBoundingClientRect(); return el.offsetParent !== null && r.top < innerHeight && r.bottom > 0; };
  const charts = Array.from(document.querySelectorAll("[data-plotly-figure]")).filter(inView);
  return charts.every((el) => el.querySelector("svg.main-svg")) ? {n: charts.length, at: performance.now()} : null;
}"""


def login(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"{username}-demo-pass")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def links(page, pattern: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    return list(dict.fromkeys(h.split("#")[0] for h in hrefs if re.fullmatch(pattern, h.split("#")[0])))


def discover(page, base: str) -> list[tuple[str, str, str]]:
    """(page type, persona, path) for one page of each type, found by following the demo's links."""
    found = [("login", "", "/accounts/login/"), ("api docs", "dana", "/api/docs/")]
    login(page, base, "dana")
    found += [("home", "dana", "/"), ("model list", "dana", "/registry/models/")]
    page.goto(f"{base}/registry/models/")
    model = next((u for u in links(page, r"/registry/models/[^/]+/") if "credit-scorer" in u), None) or links(page, r"/registry/models/[^/]+/")[0]
    found.append(("model", "dana", model))
    page.goto(base + model)
    versions = links(page, r"/registry/models/[^/]+/versions/\d+/")
    version = max(versions, key=lambda u: int(u.rstrip("/").rsplit("/", 1)[1]))
    found.append(("version", "dana", version))
    page.goto(base + version)
    reports = links(page, r"/monitoring/reports/\d+/")
    kinds = {}
    for url in reports:
        page.goto(base + url)
        kind = page.locator("h1").inner_text().split(" report")[0].strip().lower()
        kinds.setdefault(kind, url)
    found += [(f"{kind} report", "dana", url) for kind, url in sorted(kinds.items())]
    page.goto(base + version)
    found += [("model card", "dana", url) for url in links(page, r"/monitoring/model-cards/\d+/")[:1]]
    found.append(("request list", "dana", "/governance/requests/"))
    page.goto(f"{base}/governance/requests/")
    found += [("request", "dana", url) for url in links(page, r"/governance/requests/\d+/")[:1]]
    login(page, base, "rick")
    found += [("sla overview", "rick", "/monitoring/sla/"), ("alerts", "rick", "/monitoring/sla/alerts/")]
    page.goto(f"{base}/monitoring/sla/")
    found += [("sla dashboard", "rick", url) for url in links(page, r"/monitoring/sla/deployments/\d+/")[:1]]
    for environment in ("prod", "uat", "dev"):  # the demo's canary split may live in any environment
        page.goto(f"{base}/monitoring/sla/?environment={environment}")
        canary = links(page, r"/monitoring/sla/deployments/\d+/canary/")
        if canary:
            found.append(("canary", "rick", canary[0]))
            break
    found.append(("audit", "audrey", "/governance/audit/"))
    return found


def measure(page, url: str) -> dict:
    page.goto(url, wait_until="load")
    out = page.evaluate(MEASURE)
    drawn = page.wait_for_function(CHARTS_DRAWN, timeout=30_000).json_value()
    out["charts_in_view"] = drawn["n"]
    out["charts"] = drawn["at"] if drawn["n"] else 0.0
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")

    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        pages = discover(page, base)
        persona = None
        for kind, who, path in pages:
            if who != persona:
                if who:
                    login(page, base, who)
                else:
                    page.context.clear_cookies()
                persona = who
            measure(page, base + path)  # warms the cache
            samples = [measure(page, base + path) for _ in range(args.rounds)]
            rows.append({
                "page": kind, "path": path,
                "load_median": statistics.median(s["load"] for s in samples), "load_max": max(s["load"] for s in samples),
                "charts_median": statistics.median(s["charts"] for s in samples), "charts_in_view": samples[-1]["charts_in_view"],
                "transferred": samples[-1]["transferred"], "json": samples[-1]["json"],
            })
        browser.close()

    baseline = next(r["load_median"] for r in rows if r["page"] == "login")
    print(f"{'page':<22} {'path':<34} {'load ms':>8} {'max':>6} {'÷login':>7} {'charts ms':>9} {'in view':>7} {'net KB':>7} {'JSON KB':>8}")
    for r in rows:
        r["ratio_to_login"] = r["load_median"] / baseline if baseline else None
        print(f"{r['page']:<22} {r['path'][:34]:<34} {r['load_median']:8.0f} {r['load_max']:6.0f} {r['ratio_to_login']:7.2f} "
              f"{r['charts_median']:9.0f} {r['charts_in_view']:7d} {r['transferred'] / 1024:7.1f} {r['json'] / 1024:8.1f}")
    over = [r["page"] for r in rows if r["load_median"] >= TARGET_MS]
    print(f"\n{len(rows)} pages, {args.rounds} warm rounds each; load under {TARGET_MS} ms: "
          f"{'all' if not over else 'all but ' + ', '.join(over)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rounds": args.rounds, "pages": rows}, indent=2))
    return 0 if not over else 1


if __name__ == "__main__":
    sys.exit(main())
