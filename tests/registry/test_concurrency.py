"""Version numbers under concurrent registration (PostgreSQL: real row locks).

Twenty threads, each with its own database connection, register a version of
the same model through the API at the same moment. The row lock on
``RegisteredModel.last_version`` must hand out 1..20 with no gap and no duplicate.
"""

import threading

import pytest
from django.db import connection

from registry.models import ModelVersion
from tests.conftest import api_for
from tests.registry.factories import make_model

# postgres: row locks (SELECT … FOR UPDATE) between concurrent connections.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_concurrently(count, work):
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()  # each thread owns its connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_it_numbers_20_concurrent_registrations_1_to_20(ds_owner, team_credit):
    if connection.vendor != "postgresql":
        pytest.fail("this test proves row locking and must run on PostgreSQL")
    make_model(ds_owner, team_credit)
    clients = [api_for(ds_owner) for _ in range(20)]

    def register(i):
        response = clients[i].post("/api/v1/models/credit-scorer/versions/", {"metrics": {"auc": i / 20}}, format="json")
        assert response.status_code == 201, response.content
        return response.json()["version"]

    numbers = _run_concurrently(20, register)
    assert sorted(numbers) == list(range(1, 21))
    assert sorted(ModelVersion.objects.values_list("version", flat=True)) == list(range(1, 21))


def test_it_gives_one_version_to_20_concurrent_retries_with_one_idempotency_key(ds_owner, team_credit):
    if connection.vendor != "postgresql":
        pytest.fail("this test proves row locking and must run on PostgreSQL")
    make_model(ds_owner, team_credit)
    clients = [api_for(ds_owner) for _ in range(20)]

    def register(i):
        response = clients[i].post("/api/v1/models/credit-scorer/versions/", {}, format="json", HTTP_IDEMPOTENCY_KEY="build-1")
        assert response.status_code in (200, 201), response.content
        return response.status_code, response.json()["version"]

    results = _run_concurrently(20, register)
    assert {version for _, version in results} == {1}
    assert sorted(code for code, _ in results).count(201) == 1
    assert ModelVersion.objects.count() == 1
