"""One-way dependencies, checked where an import checker cannot see.

``lint-imports`` (``make lint``) checks every import statement against the layer
contract in pyproject.toml, those inside functions included. It cannot see a module
named in a string and loaded at run time, nor a fallback that hides a missing higher
app; these tests forbid both in the app code, and check the extension points the
higher apps fill.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

APP_PACKAGES = ("modelgate", "registry", "governance", "monitoring")
# Loading a module by name, or guessing whether a higher app is installed.
STRING_LOADING = re.compile(r"importlib\.import_module|\bimport_module\(|__import__\(|except ModuleNotFoundError|apps\.is_installed\(")


def _app_sources():
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_it_loads_no_app_module_by_name_and_hides_no_missing_app():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _app_sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STRING_LOADING.search(line)
    ]
    assert found == []


def test_it_finds_string_loading_when_there_is_some():
    assert STRING_LOADING.search('        __import__(f"{config.name}.tasks")')
    assert STRING_LOADING.search("    except ModuleNotFoundError as exc:")
    assert not STRING_LOADING.search("from importlib import metadata")


def test_it_keeps_the_import_contracts():
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "lint-imports")] if (ROOT / ".venv" / "bin" / "lint-imports").exists()
                         else [sys.executable, "-m", "importlinter.cli"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:]
    assert "Contracts: 2 kept, 0 broken." in out.stdout


def test_the_higher_apps_fill_the_lower_layers_extension_points():
    from governance.extensions import VERSION_EVIDENCE
    from governance.modelrisk.extensions import EVIDENCE_SOURCES, MONITORING_COVERAGE
    from modelgate.core.demo import DEMO_STEPS
    from modelgate.core.portal import HOME_WIDGETS
    from registry import extensions
    from registry.aliases import ALIAS_RULES

    assert extensions.VERSION_PANELS.keys() == ["governance", "monitoring.reports"]
    assert extensions.MODEL_PANELS.keys() == ["governance.environments"]
    assert extensions.CATALOG_COLUMNS.keys() == ["governance.environments"]
    assert extensions.CATALOG_FILTERS.keys() == ["governance.environment"]
    assert extensions.VERSION_HISTORY.keys() == ["governance.requests"]
    assert extensions.VERSION_ROUTES.keys() == ["monitoring.reports"]
    assert extensions.VERSION_REGISTERED.keys() == ["governance.webhook"]
    assert VERSION_EVIDENCE.keys() == ["monitoring.reports"]
    assert HOME_WIDGETS.keys() == ["governance.inbox", "telemetry.sla_alerts"]
    assert DEMO_STEPS.keys() == ["models", "reports", "modelrisk", "promotions", "telemetry"]
    assert EVIDENCE_SOURCES.keys() == ["reports"]
    assert MONITORING_COVERAGE.keys() == ["telemetry.sla"]
    assert "reserved_alias" in ALIAS_RULES


def test_every_installed_app_registered_its_job_handlers_and_role_grants():
    from modelgate.core import jobs, roles

    assert {"core.ping", "registry_mlflow.verify_source", "monitoring.what_if"} <= set(jobs._HANDLERS)
    granted = {perm for perms in roles.ROLE_PERMISSIONS.values() for perm in perms}
    assert {"registry.add_modelversion", "governance.add_promotionrequest", "monitoring.add_report",
            "telemetry.add_predictionevent"} <= granted
    # A role a higher app defines: governance's model validator, between the risk officer and the auditor.
    assert roles.ROLES.index("model_validator") == roles.ROLES.index(roles.AUDITOR) - 1
    assert roles.ROLE_LABELS["model_validator"] == "Model validator" and "model_validator" in roles.SEE_ALL_TEAMS_ROLES
    assert "governance.sign_validation" in roles.ROLE_PERMISSIONS["model_validator"]
