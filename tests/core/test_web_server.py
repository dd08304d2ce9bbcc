"""The web server's settings (modelgate/gunicorn.py), as gunicorn itself reads them."""

import sys

from gunicorn.app.wsgiapp import WSGIApplication


def _gunicorn_settings(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["gunicorn", "-c", "python:modelgate.gunicorn", "modelgate.wsgi", *args])
    return WSGIApplication().cfg


def test_production_runs_synchronous_workers(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    cfg = _gunicorn_settings(monkeypatch)
    assert (cfg.worker_class_str, cfg.workers, cfg.threads) == ("sync", 2, 1)  # gunicorn's own sync worker


def test_the_demo_overrides_with_threads(monkeypatch):
    # make serve: no proxy buffers its clients, and jobs run inside the request.
    cfg = _gunicorn_settings(monkeypatch, "--threads", "4", "--bind", "127.0.0.1:8000")
    assert (cfg.worker_class_str, cfg.threads, cfg.bind) == ("gthread", 4, ["127.0.0.1:8000"])
