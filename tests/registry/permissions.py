"""Permission tests every registry endpoint inherits.

An endpoint declares one ``Endpoint`` (method, URL builder, body, expected
success status, audit action). ``check_endpoint`` then proves the four answers:
anonymous → 401, a user with no role → 403, a member of another team → 404 (so
names do not leak), the owner team → 2xx and, for writes, one audit event.
``ENDPOINTS`` in test_permissions.py must name every route of registry.api.urls
(a coverage test fails otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rest_framework.test import APIClient

from modelgate.core.models import AuditEvent
from tests.conftest import api_for
from tests.factories import UserFactory


@dataclass
class Endpoint:
    route: str  # the URL pattern name in registry.api.urls (router names get the "-list"/"-detail" suffix)
    method: str
    url: Callable[[dict], str]  # world → URL
    body: Callable[[dict], object] | None = None
    ok: int = 200
    audit: str | None = None  # audit action a permitted write records
    other_team: int = 404  # what a member of another team gets
    headers: dict = field(default_factory=dict)
    raw: bytes | None = None  # raw request body (artifact uploads)

    def call(self, client: APIClient, world: dict):
        url = self.url(world)
        method = getattr(client, self.method.lower())
        if self.raw is not None:
            return method(url, data=self.raw, content_type="application/octet-stream", **self.headers)
        body = self.body(world) if self.body else None
        if body is None:
            return method(url, **self.headers)
        return method(url, body, format="json", **self.headers)


def check_endpoint(endpoint: Endpoint, world: dict) -> None:
    anonymous = endpoint.call(APIClient(), world)
    assert anonymous.status_code == 401, (endpoint.route, anonymous.status_code, anonymous.content[:200])
    if endpoint.method != "HEAD":  # HEAD answers carry no body
        assert "error" in anonymous.json()

    no_role = UserFactory(username="norole", teams=[world["team"]])
    denied = endpoint.call(api_for(no_role), world)
    assert denied.status_code == 403, (endpoint.route, denied.status_code, denied.content[:200])

    other = endpoint.call(api_for(world["outsider"]), world)
    assert other.status_code == endpoint.other_team, (endpoint.route, other.status_code, other.content[:200])
    if other.status_code == 404 and endpoint.method != "HEAD":
        assert other.json()["error"]["code"] == "not_found"

    before = AuditEvent.objects.count()
    allowed = endpoint.call(api_for(world["owner"]), world)
    assert allowed.status_code == endpoint.ok, (endpoint.route, allowed.status_code, allowed.content[:300])
    if endpoint.audit:
        actions = list(AuditEvent.objects.order_by("id")[before:].values_list("action", flat=True))
        assert endpoint.audit in actions, (endpoint.route, actions)
        event = AuditEvent.objects.filter(action=endpoint.audit).latest("id")
        assert event.actor_username == world["owner"].username
