"""gunicorn settings for the web service: ``gunicorn -c python:modelgate.gunicorn modelgate.wsgi``.

Synchronous workers, one request at a time per process, behind a buffering
proxy (docker-compose's ``proxy``, nginx, ``docs/deploy/nginx.conf``). That is
gunicorn's own recommended deployment: the proxy reads a slow client's upload
whole before handing it over and takes a download off the worker at local
speed, so a slow network never holds one of the few workers.

Measured against ``--threads 4`` (``bench/README.md``, MLflow API, alternating
runs on one 2-CPU machine): threads used a median ~20 % more CPU per write
(nine pairs, −2 % to +43 %, one outlier at +112 %) and served single-client
reads 1.2–2.6× slower in five of six pairs. Each request is handed from the
accepting thread to a pool, the threads contend for the GIL, and eight
transactions at once queue on the audit chain's head row where two do not.

The embedded demo (``make demo``) overrides this with ``--threads 4``: it has no
proxy in front and no broker, so its background jobs run inside the request.

Settings given on the command line or in ``GUNICORN_CMD_ARGS`` override these.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gunicorn's sync worker that closes a finished connection without waiting for
# the client to close first, when nothing is left unread (modelgate/gunicorn_worker.py).
worker_class = "modelgate.gunicorn_worker.SyncWorker"
# A request longer than this is killed: the proxy has already buffered uploads,
# so only the request's own work counts against it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
