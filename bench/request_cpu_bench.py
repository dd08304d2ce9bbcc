"""In-process CPU time and query count per API request (Django's test client, no network).

Measures what the server spends per request on the paths the MLflow comparison drives: a version
read over MLflow's API and over the REST API, and a version write over MLflow's API. Run against a
scratch database (it migrates it and adds a team, a data scientist, a token and models):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mg_bench REDIS_URL=redis://127.0.0.1:6379/10 \
        .venv/bin/python bench/request_cpu_bench.py --requests 200

CPU time is the process's (``time.process_time``) over ``--requests`` requests after ``--warmup``
requests; query counts are of one warm request (``CaptureQueriesContext``).
"""

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelgate.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from modelgate.core import roles  # noqa: E402
from modelgate.core.services import team_add_member, team_create, token_create  # noqa: E402


def setup(models: int):
    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:8]
    team = team_create(name=f"Bench {run}", slug=f"bench-{run}")
    user = get_user_model().objects.create_user(username=f"bench-{run}", password=uuid.uuid4().hex)
    user.groups.add(Group.objects.get(name=roles.DATA_SCIENTIST))
    team_add_member(team=team, user=user)
    _, raw = token_create(user=user, name="bench")
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    names = [f"bench-{run}-{i}" for i in range(models)]
    for name in names:
        post(client, headers, "/api/2.0/mlflow/registered-models/create", {"name": name})
        post(client, headers, "/api/2.0/mlflow/model-versions/create", {"name": name, "source": f"s3://bench/{name}/1"})
    return client, headers, names


def post(client, headers, url, body):
    response = client.post(url, json.dumps(body), content_type="application/json", **headers)
    assert response.status_code in (200, 201), (url, response.status_code, response.content[:300])
    return response


def get(client, headers, url, params=None):
    response = client.get(url, params or {}, **headers)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return response


def measure(label, call, requests, warmup):
    for i in range(warmup):
        call(i)
    with CaptureQueriesContext(connection) as queries:
        call(warmup)
    count = len(queries.captured_queries)
    started = time.process_time()
    for i in range(requests):
        call(warmup + 1 + i)
    cpu_ms = (time.process_time() - started) * 1000 / requests
    return {"phase": label, "cpu_ms": round(cpu_ms, 2), "queries": count}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--sql", action="store_true", help="print the SQL of one warm request per phase")
    args = parser.parse_args()
    client, headers, names = setup(args.models)

    def mlflow_read(i):
        get(client, headers, "/api/2.0/mlflow/model-versions/get", {"name": names[i % len(names)], "version": "1"})

    def rest_read(i):
        get(client, headers, f"/api/v1/models/{names[i % len(names)]}/versions/1/")

    def mlflow_write(i):
        name = names[i % len(names)]
        post(client, headers, "/api/2.0/mlflow/model-versions/create", {"name": name, "source": f"s3://bench/{name}/{i}"})

    results = [
        measure("MLflow model-versions/get", mlflow_read, args.requests, args.warmup),
        measure("REST version detail", rest_read, args.requests, args.warmup),
        measure("MLflow model-versions/create", mlflow_write, args.requests, args.warmup),
    ]
    if args.sql:
        for label, call in (("read", mlflow_read), ("rest", rest_read), ("write", mlflow_write)):
            with CaptureQueriesContext(connection) as queries:
                call(0)
            print(f"--- {label}")
            for query in queries.captured_queries:
                print(query["sql"][:400])
    print(f"database: {connection.vendor}; cache: {django.conf.settings.CACHES['default']['BACKEND']}")
    print("| request | CPU ms per request | queries |")
    print("|---|---|---|")
    for row in results:
        print(f"| {row['phase']} | {row['cpu_ms']} | {row['queries']} |")


if __name__ == "__main__":
    main()
