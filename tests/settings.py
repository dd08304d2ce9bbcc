"""Settings of the test run: ``modelgate.settings`` with a data folder of the run's own.

The tests must not see what ``make demo`` (or a developer) left in ``var/`` — the demo's
database, its artifacts, or the hashed names of its ``collectstatic`` manifest — nor write
there. The first process of a run (pytest, or the xdist controller) creates a temporary
folder, removed when it exits; its xdist workers and every subprocess the tests start (celery
worker, gunicorn, manage.py) inherit it through the environment and share it. Artifacts go
inside it too, whatever ``ARTIFACT_STORE`` the shell exports.
"""

import atexit
import os
import shutil
import tempfile

_OWN_FOLDER = "MODELGATE_TEST_VAR_DIR"  # set by the process that created the folder

if _OWN_FOLDER not in os.environ:
    _folder = tempfile.mkdtemp(prefix="modelgate-test-var-")
    os.environ[_OWN_FOLDER] = _folder
    atexit.register(shutil.rmtree, _folder, ignore_errors=True)
os.environ["MODELGATE_VAR_DIR"] = os.environ[_OWN_FOLDER]
os.environ.pop("ARTIFACT_STORE", None)

from modelgate.settings import *  # noqa: E402,F403

# Each xdist worker has a test database of its own, so it gets cache keys of its own too:
# cached role names and permissions are keyed by user id, and ids repeat across the workers'
# databases. Subprocesses the tests start inherit both variables, so they share the prefix.
CACHES["default"]["KEY_PREFIX"] = "test-" + os.environ.get("PYTEST_XDIST_WORKER", "main")  # noqa: F405
