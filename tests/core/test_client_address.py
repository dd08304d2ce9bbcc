"""The client's address behind the deployment's proxy.

docker-compose puts nginx in front of gunicorn's synchronous workers; every request
then arrives from the proxy's address. The audit trail and the login throttle must
still see the client, and nothing a client writes itself may be believed.
"""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from modelgate.core.middleware import RequestContextMiddleware, client_address
from modelgate.core.models import AuditEvent
from tests.conftest import api_for

PROXY = "172.18.0.5"


def _meta(forwarded=None, remote=PROXY):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return meta


def test_without_trusted_proxies_a_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(_meta("203.0.113.9")) == PROXY


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (1, "203.0.113.9", "203.0.113.9"),
        # The client wrote the first entry itself; only the one our proxy appended counts.
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (1, "2001:db8::1", "2001:db8::1"),
        # Fewer entries than proxies (a request that skipped one), none, or not an address.
        (2, "203.0.113.9", PROXY),
        (1, None, PROXY),
        (1, "", PROXY),
        (1, "not-an-ip", PROXY),
        (1, "203.0.113.9, <script>", PROXY),
    ],
)
def test_behind_trusted_proxies_the_entry_the_outermost_one_appended_is_the_client(settings, hops, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    assert client_address(_meta(forwarded)) == expected


def test_the_audit_event_records_the_client_behind_the_proxy(settings, ds_owner):
    settings.TRUSTED_PROXY_COUNT = 1
    response = api_for(ds_owner).post(
        "/api/v1/tokens/", {"name": "x"}, format="json", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="token.create", object_id=str(response.json()["id"]))
    assert event.client_ip == "203.0.113.9"


def test_the_view_sees_the_client_address_as_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    seen = {}

    def view(request):
        seen["remote"] = request.META["REMOTE_ADDR"]
        return HttpResponse()

    request = RequestFactory().get("/healthz", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")
    RequestContextMiddleware(view)(request)
    assert seen["remote"] == "203.0.113.9"
