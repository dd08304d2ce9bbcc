"""gunicorn settings for the web service: ``gunicorn -c python:modelgate.gunicorn modelgate.wsgi``.

gunicorn's own synchronous workers, one request at a time per process, behind a
buffering proxy (docker-compose's ``proxy``, nginx, ``docs/deploy/nginx.conf``).
That is gunicorn's recommended deployment: the proxy reads a slow client's upload
whole before handing it over and takes a download off the worker at local speed,
so a slow network never holds one of the few workers. Threads cost more CPU per
request here (``bench/README.md``).

The embedded demo (``make demo``) overrides this with ``--threads 4``: it has no
proxy in front and no broker, so its background jobs run inside the request.

Settings given on the command line or in ``GUNICORN_CMD_ARGS`` override these.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
# A request longer than this is killed: the proxy has already buffered uploads,
# so only the request's own work counts against it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
