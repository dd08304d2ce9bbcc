"""Hostile input: each attack class public registries have shipped, tried and shown refused.

Already covered elsewhere (not repeated here): ``../``, absolute, backslash, NUL and
``%2e%2e``/``%252e%252e`` artifact names on upload (tests/registry/test_artifacts.py),
zip-slip member names in restored archives (tests/core/test_backup.py), login open
redirects, session fixation, throttling and login CSRF (tests/core/test_login_security.py),
SSRF through webhook URLs incl. redirects and DNS rebinding (tests/governance/test_webhooks.py),
pickle refused by the report loader (tests/monitoring/test_reports_computation.py).
"""

from __future__ import annotations

import io
import json
import logging
import tarfile

import pytest
from django.test import Client
from django.urls import reverse

from modelgate.core.backup import BackupError, restore_backup
from modelgate.core.models import ApiToken, AuditEvent
from registry import services as registry
from registry.models import Artifact, RegisteredModel
from tests.conftest import api_for
from tests.security.test_authorization_matrix import POLICY, PORTAL_BODIES
from tests.security.urlconf import routes, url_for
from tests.security.world import ARTIFACT_PATH, MODEL, build_world, personal_tokens

pytestmark = pytest.mark.django_db

V = f"/api/v1/models/{MODEL}/versions/1"


@pytest.fixture
def world(ds_owner, mle_teammate, admin_user, team_credit, settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "artifacts")}},
    }
    from django.core.files.storage import storages

    storages._storages = {}
    yield build_world(ds_owner=ds_owner, mle_teammate=mle_teammate, admin_user=admin_user, team_credit=team_credit)
    storages._storages = {}


# --- path traversal through artifact paths (download and upload) -------------------------

TRAVERSALS = [
    "..%2f..%2fsettings.py",  # single-encoded slash
    "%2e%2e/%2e%2e/etc/passwd",  # single-encoded dots
    "%252e%252e/%252e%252e/etc/passwd",  # double
    "%25252e%25252e/etc/passwd",  # triple
    "..%5c..%5cwindows%5cwin.ini",  # encoded backslashes
    "..\\..\\windows\\win.ini",
    "C:\\windows\\win.ini",
    "C:/windows/win.ini",
    "model;/../../etc/passwd",  # ;-path parameter
    "model/model.skops;..%2f..%2fetc%2fpasswd",
    "/etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_it_never_serves_a_file_outside_the_version_through_a_crafted_path(world, ds_owner, path):
    response = api_for(ds_owner).get(f"{V}/artifacts/{path}")
    assert response.status_code in (400, 404), (path, response.status_code)
    assert b"root:" not in response.content and b"SECRET_KEY" not in response.content


@pytest.mark.parametrize("path", TRAVERSALS)
def test_it_refuses_to_store_an_artifact_under_a_crafted_path(world, ds_owner, path):
    version = world["version"]
    draft, _ = registry.modelversion_register(user=ds_owner, registered_model=world["model"], framework="sklearn",
                                              metrics={}, input_schema={"type": "object"})
    before = Artifact.objects.count()
    response = api_for(ds_owner).put(f"/api/v1/models/{MODEL}/versions/{draft.version}/artifacts/{path}",
                                     data=b"payload", content_type="application/octet-stream")
    assert response.status_code in (400, 404), (path, response.status_code)
    assert Artifact.objects.count() == before
    assert version.artifacts.get().path == ARTIFACT_PATH


def test_it_refuses_a_symlink_in_a_restored_archive(tmp_path, db):
    archive = tmp_path / "symlink.tar.gz"
    manifest = json.dumps({"format": 1, "members": {"artifacts/sha256/aa/link": {"sha256": "0" * 64, "size": 0}}}).encode()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        link = tarfile.TarInfo("artifacts/sha256/aa/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    users_before = AuditEvent.objects.count()
    with pytest.raises(BackupError, match="not a regular file"):
        restore_backup(archive)  # refused while reading the archive, before the target is looked at
    assert AuditEvent.objects.count() == users_before


# --- bodies: oversized, deeply nested -------------------------------------------------------


def test_it_refuses_an_oversized_json_body_and_stores_nothing(world, ds_owner, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"name": "huge-model", "team": "credit", "description": "x" * (200 * 1024)})
    response = api_for(ds_owner).post("/api/v1/models/", data=body, content_type="application/json")
    assert response.status_code in (400, 413), response.status_code
    assert not RegisteredModel.objects.filter(name="huge-model").exists()


def test_it_answers_a_deeply_nested_json_body_without_a_server_error(world, ds_owner):
    depth = 50_000
    body = "[" * depth + "]" * depth
    for url in ("/api/v1/models/", f"{V}/validate-row/", "/api/v1/telemetry/events/"):
        response = api_for(ds_owner).post(url, data=body, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
    mlflow = Client(HTTP_AUTHORIZATION=api_for(ds_owner)._credentials["HTTP_AUTHORIZATION"])
    response = mlflow.post("/api/2.0/mlflow/registered-models/create", data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    nested = {"a": None}
    for _ in range(200):
        nested = {"a": nested}
    response = api_for(ds_owner).patch(f"/api/v1/models/{MODEL}/", data=json.dumps({"tags": nested}),
                                       content_type="application/json")
    assert response.status_code == 400


# --- injection in names, tags, comments ------------------------------------------------------

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQLI = "x'); DROP TABLE registry_registeredmodel;--"


def test_it_stores_sql_like_text_as_text_and_escapes_html_in_pages(world, ds_owner, client):
    model = world["model"]
    api = api_for(ds_owner)
    response = api.patch(f"/api/v1/models/{MODEL}/", data={"description": XSS + SQLI, "tags": {"note": XSS, "q": SQLI}},
                         format="json")
    assert response.status_code == 200, response.content
    for name in (SQLI, "<b>bold</b>"):
        response = api.post("/api/v1/models/", data={"name": name, "team": "credit"}, format="json")
        assert response.status_code == 400 and "name" in response.json()["error"]["fields"]
    model.refresh_from_db()
    assert model.tags["q"] == SQLI and RegisteredModel.objects.count() == 1
    client.force_login(ds_owner)
    for url in (f"/registry/models/{MODEL}/", "/registry/models/", f"/registry/models/{MODEL}/versions/1/"):
        page = client.get(url).content.decode()
        assert "<script>alert" not in page and "<img src=x onerror" not in page, url
    page = client.get(f"/registry/models/{MODEL}/").content.decode()
    assert "&lt;script&gt;alert" in page


def test_it_escapes_a_hostile_comment_on_the_request_page(world, ds_owner, client):
    from governance import services as gov

    req = world["promotionrequest"]
    gov.promotion_request_update(user=ds_owner, request=req, reason=XSS)
    client.force_login(ds_owner)
    page = client.get(f"/governance/requests/{req.pk}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page


# --- CSRF on every portal form ----------------------------------------------------------------


def test_every_portal_post_needs_a_csrf_token(world, ds_owner, mle_teammate, admin_user):
    """Generated from the URL conf: every portal route the policy lets someone POST to."""
    checked = []
    for route in routes():
        if route.kind != "portal" or "POST" not in POLICY.get(route.name, {}):
            continue
        client = Client(enforce_csrf_checks=True)
        client.force_login(admin_user)
        before = AuditEvent.objects.count()
        body = PORTAL_BODIES[route.name](world) if route.name in PORTAL_BODIES else {}
        response = client.post(url_for(route, world), data=body)
        assert response.status_code == 403, (route.name, response.status_code)
        assert AuditEvent.objects.count() == before, route.name
        checked.append(route.name)
    assert len(checked) >= 10, checked


def test_login_and_logout_need_a_csrf_token(ds_owner):
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("login"), {"username": "dana", "password": "x"}).status_code == 403
    client.force_login(ds_owner)
    assert client.post(reverse("logout")).status_code == 403


# --- Host header, page sizes -----------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "localhost:8000@evil.example"])
def test_it_answers_400_to_a_foreign_host_header(world, ds_owner, host):
    client = Client(HTTP_HOST=host)
    assert client.get("/healthz").status_code == 400
    client.force_login(ds_owner)
    response = client.post("/accounts/login/", {"username": "dana", "password": "x"})
    assert response.status_code == 400
    assert b"evil.example" not in response.content


def test_it_caps_page_sizes(world, ds_owner):
    from tests.governance.fixtures import make_model

    for i in range(3):
        make_model(user=ds_owner, team=world["model"].team, name=f"m-{i}")
    from modelgate.api.pagination import CursorPagination

    for limit in ("100000", "-1", "0", "abc", "1e9"):
        response = api_for(ds_owner).get(f"/api/v1/models/?limit={limit}")
        assert response.status_code in (200, 400), limit
        if response.status_code == 200:
            assert len(response.json()["results"]) <= CursorPagination.max_page_size
    assert CursorPagination.max_page_size <= 500


# --- tokens: never logged, never shown again ----------------------------------------------------


def test_a_raw_token_is_never_logged_nor_shown_after_creation(world, ds_owner, caplog):
    caplog.set_level(logging.DEBUG)
    api = api_for(ds_owner)
    created = api.post("/api/v1/tokens/", data={"name": "ci"}, format="json")
    assert created.status_code == 201
    raw = created.json()["token"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get(f"{V}/artifacts/does-not-exist").status_code == 404  # a logged 404
    bad = raw[:-4] + "AAAA"
    assert Client(HTTP_AUTHORIZATION=f"Bearer {bad}").get("/api/v1/me/").status_code == 401
    listing = api.get("/api/v1/tokens/").content.decode()
    detail = api.get(f"/api/v1/tokens/{created.json()['id']}/").content.decode()
    events = json.dumps(list(AuditEvent.objects.values("changes")), default=str)
    for text in (caplog.text, listing, detail, events):
        assert raw not in text and bad not in text and raw[10:] not in text
    assert ApiToken.objects.filter(key_hash=ApiToken.hash_key(raw)).exists()


def test_personal_tokens_are_hashed_at_rest(world, ds_owner, mle_teammate, admin_user):
    tokens = personal_tokens({"ds_owner": ds_owner})
    _, raw = tokens["ds_owner"]
    stored = json.dumps(list(ApiToken.objects.values()), default=str)
    assert raw not in stored and raw[10:] not in stored


# --- model files: a malicious pickle is never loaded ----------------------------------------------


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("path", ["model/model.pkl", "model/model.joblib", "model/model.pickle"])
def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path, settings, path):
    import pickle

    from monitoring.reports.loading import ReportInputError, load_model

    assert settings.MODELGATE_ALLOW_PICKLE is False  # the default
    sentinel = tmp_path / "pwned"
    data = pickle.dumps(_Payload(str(sentinel)))
    with pytest.raises(ReportInputError, match="MODELGATE_ALLOW_PICKLE"):
        load_model(data, path=path, framework="sklearn", task="classification", allow_pickle=settings.MODELGATE_ALLOW_PICKLE)
    assert not sentinel.exists()
