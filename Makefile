# Modelgate — `make demo` runs the demo, `make test` runs the tests.
SHELL := /bin/bash
VENV ?= .venv
# MLflow's own server (full `mlflow`, which conflicts with our pins) for the split-deployment test.
MLFLOW_SERVER_VENV ?= .venv-mlflow-server
PY := $(VENV)/bin/python
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
# Demo runs production-shaped (DEBUG off, gunicorn, whitenoise) on plain HTTP at localhost.
DEMO_ENV = SECRET_KEY="$$(cat var/demo-secret-key)" SECURE_COOKIES=false

.DEFAULT_GOAL := help
.PHONY: help venv mlflow-server-venv demo seed serve test test-embedded lint format schema system-deps clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## Create .venv and install requirements.txt

$(MLFLOW_SERVER_VENV)/.installed: requirements-mlflow-server.txt
	rm -rf $(MLFLOW_SERVER_VENV)
	$(PYTHON) -m venv $(MLFLOW_SERVER_VENV)
	$(MLFLOW_SERVER_VENV)/bin/pip install --quiet --upgrade pip
	$(MLFLOW_SERVER_VENV)/bin/pip install --quiet -r requirements-mlflow-server.txt
	touch $@

mlflow-server-venv: $(MLFLOW_SERVER_VENV)/.installed ## Create $(MLFLOW_SERVER_VENV): MLflow's tracking server for the split-deployment test

var/demo-secret-key:
	mkdir -p var
	$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@
	chmod 600 $@

seed: venv var/demo-secret-key ## Migrate the embedded database and load demo data (idempotent)
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(DEMO_ENV) $(PY) manage.py seed_demo

serve: venv var/demo-secret-key ## Serve the portal on http://$(HOST):$(PORT)
	@echo "Modelgate portal: http://$(HOST):$(PORT)/  (API docs: /api/docs/, admin: /admin/)"
	@# Threads, unlike production's sync workers: no proxy buffers the demo's clients, and with no broker its jobs run inside the request.
	$(DEMO_ENV) $(VENV)/bin/gunicorn -c python:modelgate.gunicorn modelgate.wsgi --bind $(HOST):$(PORT) --threads 4 --timeout 600 --access-logfile -

demo: seed serve ## Set everything up and serve the demo portal

# Markers: worker tests need a broker, postgres tests need PostgreSQL; on the embedded
# default (SQLite, no broker) they are deselected here, and .ci/run runs them against both.
# With a broker the split-deployment test runs too: it needs MLflow's server venv, made first.
test: venv system-deps ## Run the whole suite (on PostgreSQL + Redis when DATABASE_URL/REDIS_URL say so)
	@markers=(); \
	[[ -n "$${REDIS_URL}$${CELERY_BROKER_URL}" ]] || markers+=("not worker"); \
	[[ "$${DATABASE_URL}" == postgres* ]] || markers+=("not postgres"); \
	expr=$$(IFS='|'; echo "$${markers[*]}" | sed 's/|/ and /g'); \
	[[ -z "$${REDIS_URL}$${CELERY_BROKER_URL}" ]] || $(MAKE) --no-print-directory mlflow-server-venv || exit 1; \
	echo "test run: DATABASE_URL=$${DATABASE_URL:-<embedded sqlite>} broker=$${REDIS_URL:-<in-process>} markers=$${expr:-<all>}"; \
	SECRET_KEY=test-secret-key-not-for-production DJANGO_ALLOW_ASYNC_UNSAFE=true \
	  $(PY) -m pytest -n 2 --dist loadfile --durations=15 $${expr:+-m "$$expr"} $(PYTEST_ARGS)

test-embedded: ## Run the suite on the embedded default (SQLite, tasks in-process)
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL $(MAKE) test

system-deps: ## Install Debian's chromium (browser tests), curl and jq (API guide test), pg_dump/pg_restore (backup tests) if missing (needs root)
	@command -v chromium >/dev/null && command -v jq >/dev/null && command -v curl >/dev/null \
	  && command -v pg_dump >/dev/null && command -v pg_restore >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium jq curl postgresql-client; \
	  else echo "Browser tests need Debian's chromium, the API guide test curl and jq, the backup tests pg_dump: sudo apt-get install chromium jq curl postgresql-client"; exit 1; fi; }

lint: venv ## ruff, import contracts (layers, no ML stack in the web process), Django checks, migrations up to date
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	SECRET_KEY=lint $(PY) manage.py check
	SECRET_KEY=lint $(PY) manage.py makemigrations --check --dry-run

schema: venv ## Validate the OpenAPI schema (fails on warnings)
	SECRET_KEY=schema $(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

clean: ## Remove the virtualenvs and local data
	rm -rf $(VENV) $(MLFLOW_SERVER_VENV) var
