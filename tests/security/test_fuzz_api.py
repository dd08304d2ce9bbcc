"""Schemathesis against our own OpenAPI schema: no 5xx, and no documented response
that breaks its schema. Bounded (FUZZ_EXAMPLES per operation) so CI stays quick."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from modelgate.core import roles
from modelgate.core.services import token_create
from modelgate.wsgi import application
from tests.factories import TeamFactory, UserFactory

# Three examples per operation keep the whole run near a minute on two idle cores; raise it locally.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

@pytest.fixture
def _keep_test_connection():
    """Calls go straight to the WSGI app, whose request signals would close the test
    transaction's connection; Django's own test client disconnects them the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_headers(db, _keep_test_connection):
    # An administrator reaches every operation's happy path as well as its refusals.
    team = TeamFactory(slug="fuzz", name="Fuzz")
    user = UserFactory(username="fuzzer", roles=[roles.ADMIN, roles.DATA_SCIENTIST], teams=[team])
    _, raw = token_create(user=user, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}


# One pytest item per operation, parametrized by pytest itself: schemathesis' own
# ``schema.parametrize()`` gives every operation the same node id, so pytest-xdist ran one of them.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_api_never_answers_5xx_or_breaks_its_schema(operation, fuzz_headers):
    @given(case=operation.as_strategy())
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case):
        case.call_and_validate(headers=fuzz_headers, checks=[not_a_server_error, response_schema_conformance])

    check()
