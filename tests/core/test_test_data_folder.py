"""The test run keeps out of ``var/`` (what ``make demo`` leaves there), and static files are
served by their hashed and their plain names alike, before and after ``collectstatic``."""

from io import BytesIO
from pathlib import Path
from wsgiref.util import setup_testing_defaults

from django.conf import settings
from django.core.files.storage import storages
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import connection
from django.templatetags.static import static
from django.test import Client

from tests.conftest import PLOTLY_BUNDLE, ROOT, live_server_app

PLOTLY = "vendor/plotly/plotly-finance.min.js"


def _inside(path, folder) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def test_it_gives_the_run_a_data_folder_of_its_own(db):
    var = Path(settings.VAR_DIR)
    assert var.is_dir() and not _inside(var, ROOT)
    for path in (settings.STATIC_ROOT, settings.MEDIA_ROOT, storages["artifacts"].location):
        assert _inside(path, var), path
    if connection.vendor == "sqlite":
        assert _inside(connection.settings_dict["NAME"], var)


def _through_the_test_client(url: str) -> tuple[str, bytes]:
    response = Client().get(url)
    return str(response.status_code), b"".join(response.streaming_content)


def _through_the_live_server_app(url: str) -> tuple[str, bytes]:
    """One GET through the WSGI app the live server runs, as its HTTP server calls it."""
    environ = {"PATH_INFO": url, "REQUEST_METHOD": "GET", "wsgi.input": BytesIO()}
    setup_testing_defaults(environ)
    answer = {}
    body = live_server_app(WSGIHandler())(environ, lambda status, headers, exc_info=None: answer.setdefault("status", status))
    try:
        return answer["status"], b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()


def _assert_serves_the_bundle(url: str) -> None:
    for get in (_through_the_test_client, _through_the_live_server_app):
        status, body = get(url)
        assert status.startswith("200") and body == PLOTLY_BUNDLE.read_bytes(), (get.__name__, url, status)


def test_it_serves_plain_names_before_collectstatic(db):
    assert not Path(settings.STATIC_ROOT, "staticfiles.json").exists()
    assert static(PLOTLY) == settings.STATIC_URL + PLOTLY
    _assert_serves_the_bundle(static(PLOTLY))


def test_it_serves_hashed_and_plain_names_after_collectstatic(db, settings, tmp_path):
    # What `make seed` does, into a folder of this test's own, for the project's static/ only.
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    call_command("collectstatic", "--noinput", verbosity=0)

    hashed = static(PLOTLY)
    assert hashed != settings.STATIC_URL + PLOTLY and hashed.startswith(settings.STATIC_URL + "vendor/plotly/plotly-finance.min.")
    _assert_serves_the_bundle(hashed)
    _assert_serves_the_bundle(settings.STATIC_URL + PLOTLY)
