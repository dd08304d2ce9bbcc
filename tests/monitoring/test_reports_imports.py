"""The web process never imports the ML stack: only worker code paths do, lazily."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("shap", "pandas", "sklearn", "lightgbm", "xgboost", "fairlearn", "skops", "scipy", "numba")


def test_it_imports_the_url_conf_and_report_code_without_the_ml_stack():
    script = (
        "import json, sys, django; django.setup();"
        "import modelgate.urls, monitoring.api.reports, monitoring.views, monitoring.tasks, monitoring.report_gates;"
        "from django.urls import get_resolver; get_resolver().url_patterns;"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "modelgate.settings", "SECRET_KEY": os.environ.get("SECRET_KEY", "t")}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
