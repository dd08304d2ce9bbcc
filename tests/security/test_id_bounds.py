"""Ids no database column can hold answer 404 on every route, never 500.

Every named route whose URL carries an id (``pk``, ``version_id``, a version number) is
called with every method it serves, as an administrator (who may act on everything),
with the id replaced by values beyond 64 bits, a negative one and a non-number. Whatever
the route, the object cannot exist: 404, and nothing changes.
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import Client

from tests.security.test_authorization_matrix import API_BODIES, POLICY
from tests.security.urlconf import routes, url_for
from tests.security.world import build_world

pytestmark = pytest.mark.django_db

ID_KWARGS = ("pk", "version_id", "version")
SENTINEL = "987654321"  # a valid id, replaced in the reversed URL by each bad one
BAD_IDS = (str(2**64), str(2**63), str(10**30), "-1", "-" + str(2**64), "1e3")
# Valid bodies where a view validates its input before looking the object up.
BODIES = {**API_BODIES, "v1:deployment-review": {"comment": "reviewed"}}


def _id_routes():
    return [(route, kwarg) for route in routes() for kwarg in route.kwargs if kwarg in ID_KWARGS]


@pytest.fixture
def admin_client(ds_owner, mle_teammate, admin_user, team_credit, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "artifacts")}},
    }
    from django.core.files.storage import storages

    storages._storages = {}
    world = build_world(ds_owner=ds_owner, mle_teammate=mle_teammate, admin_user=admin_user, team_credit=team_credit)
    client = Client(raise_request_exception=False)  # a 500 is a finding to list, not an error to stop at
    client.force_login(admin_user)
    yield client, world
    storages._storages = {}


def test_it_finds_routes_with_ids_in_every_app():
    names = {route.name for route, _ in _id_routes()}
    # The routes the hole was seen on, and one of each kind: REST, portal, telemetry.
    assert {"v1:modelcard-detail", "v1:modelcard-html", "monitoring:modelcard-detail", "v1:promotionrequest-detail",
            "governance:request-detail", "telemetry:dashboard", "v1:modelversion-detail"} <= names


def test_it_answers_404_for_ids_beyond_64_bits_on_every_route(admin_client):
    client, world = admin_client
    failures = []
    for route, kwarg in _id_routes():
        base = url_for(route, world, **{kwarg: SENTINEL})
        assert base.count(SENTINEL) == 1, (route.name, base)
        for bad in BAD_IDS:
            url = base.replace(SENTINEL, bad)
            # Function views declare no methods: the matrix's policy names the ones they serve.
            for method in route.methods or tuple(POLICY[route.name]):
                body = BODIES.get(route.name, {})
                body = json.dumps(body(world) if callable(body) else body)  # some bodies name the world's objects
                kwargs = {} if method in ("GET", "DELETE") else {"data": body, "content_type": "application/json"}
                with transaction.atomic():
                    response = getattr(client, method.lower())(url, **kwargs)
                    transaction.set_rollback(True)
                if response.status_code != 404:
                    failures.append(f"{method} {url} [{route.name}]: {response.status_code}")
    assert not failures, f"{len(failures)} routes do not answer 404:\n" + "\n".join(failures)


def test_no_route_takes_an_unbounded_integer():
    # ``<int:…>`` accepts any number of digits; ids go through ``<id:…>`` (modelgate/core/converters.py).
    from django.urls import URLPattern, URLResolver, get_resolver
    from django.urls.converters import IntConverter

    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns)
            elif isinstance(p, URLPattern):
                yield p

    unbounded = [str(p.pattern) for p in walk(get_resolver().url_patterns)
                 if any(type(c) is IntConverter for c in getattr(p.pattern, "converters", {}).values())]
    assert unbounded == []

