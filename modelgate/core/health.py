"""Liveness and readiness probes (JSON, no authentication, no secrets)."""

import time
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def _check_broker():
    if not settings.CELERY_BROKER_URL:
        return {"ok": True, "mode": "in-process (no broker configured)"}
    from modelgate.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {"ok": True, "mode": "broker"}


def _check_artifact_store():
    store = storages["artifacts"]
    name = f".readyz/{uuid.uuid4().hex}"
    saved = store.save(name, ContentFile(b"ok"))
    try:
        with store.open(saved) as handle:
            ok = handle.read() == b"ok"
    finally:
        store.delete(saved)
    return {"ok": ok, "backend": store.__class__.__name__}


CHECKS = {"database": _check_database, "broker": _check_broker, "artifact_store": _check_artifact_store}


@never_cache
@require_GET
def readyz(request):
    results = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            results[name] = check()
        except Exception as exc:  # report which dependency failed, not the stack
            results[name] = {"ok": False, "error": exc.__class__.__name__}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    ok = all(r["ok"] for r in results.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": results}, status=200 if ok else 503)
