"""Webhooks: outbox rows written with the change, HMAC-signed delivery, retries with
backoff, SSRF refusal (loopback/private/metadata unless allow-listed), no redirects."""

import datetime
import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from governance import services, webhooks
from governance.models import Environment, Webhook, WebhookAllowedAddress, WebhookDelivery
from tests.conftest import api_for
from tests.governance.fixtures import post_passing_ci

pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP server on 127.0.0.1 recording what it receives."""

    def __init__(self, status=200, location=None):
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _hook(url, events=None, team=None):
    # Created directly: these tests are about delivery; creation (with its URL check) is tested below.
    return Webhook.objects.create(name="ci", url=url, secret="topsecret", events=events or [], team=team)


def _submit_uat(user, version):
    post_passing_ci(user=user, version=version)
    req = services.promotion_request_create(user=user, version=version, environment=Environment.objects.get(slug="uat"))
    return services.promotion_request_submit(user=user, request=req)


def test_it_writes_the_outbox_row_in_the_same_transaction_as_the_change(ds_owner, version, receiver):
    _hook(receiver.url, events=["request.opened"])
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    # Gates fail: the submission rolls back, and so does its event.
    with pytest.raises(services.ConflictError):
        services.promotion_request_submit(user=ds_owner, request=req)
    assert not WebhookDelivery.objects.exists()
    post_passing_ci(user=ds_owner, version=version)
    services.promotion_request_submit(user=ds_owner, request=req)
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "request.opened" and delivery.status == "pending"
    assert delivery.payload["data"]["request_id"] == req.pk and delivery.payload["data"]["model"] == "credit-scoring"


def test_it_only_subscribes_the_model_teams_and_global_hooks(ds_owner, version, team_fraud, receiver):
    _hook(receiver.url, events=["request.opened"], team=team_fraud)
    global_hook = _hook(receiver.url, events=["request.opened", "deployment.deployed"])
    _hook(receiver.url, events=["deployment.rolled_back"])
    _submit_uat(ds_owner, version)
    assert list(WebhookDelivery.objects.values_list("webhook_id", flat=True)) == [global_hook.pk]


def test_it_refuses_loopback_until_an_admin_allows_it_then_signs_the_delivery(ds_owner, version, receiver, admin_user):
    _hook(receiver.url)
    _submit_uat(ds_owner, version)
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert "loopback, private, link-local or metadata" in delivery.last_error and delivery.attempts == 1
    assert receiver.requests == []
    assert delivery.next_attempt_at > timezone.now() + datetime.timedelta(seconds=25)  # backoff

    services.webhook_allow_address(user=admin_user, network="127.0.0.1/32", note="test receiver")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "succeeded"
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.response_status == 200 and delivery.delivered_at is not None
    [received] = receiver.requests
    headers = received["headers"]
    expected = hmac.new(b"topsecret", headers["X-Modelgate-Timestamp"].encode() + b"." + received["body"], hashlib.sha256)
    assert headers["X-Modelgate-Signature"] == "sha256=" + expected.hexdigest()
    assert headers["X-Modelgate-Event"] == "request.opened"
    assert json.loads(received["body"])["data"]["state"] == "pending"
    # A delivered row is not sent twice.
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"


def test_it_does_not_follow_redirects(ds_owner, version, admin_user):
    target = Receiver()
    redirector = Receiver(status=302, location=target.url)
    try:
        services.webhook_allow_address(user=admin_user, network="127.0.0.1")
        _hook(redirector.url)
        _submit_uat(ds_owner, version)
        delivery = WebhookDelivery.objects.get()
        assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == "retrying"
        delivery.refresh_from_db()
        assert delivery.response_status == 302 and "redirects are not followed" in delivery.last_error
        assert len(redirector.requests) == 1 and target.requests == []
    finally:
        target.close()
        redirector.close()


def test_it_gives_up_after_the_last_attempt(ds_owner, version):
    _hook("http://127.0.0.1:9/unreachable")
    _submit_uat(ds_owner, version)
    delivery = WebhookDelivery.objects.get()
    for _ in range(services.WEBHOOK_MAX_ATTEMPTS):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        services.webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == services.WEBHOOK_MAX_ATTEMPTS
    assert [services.webhook_backoff_seconds(n) for n in (1, 2, 3)] == [30, 120, 480]


def test_it_connects_to_the_address_it_checked(monkeypatch, receiver, admin_user):
    """DNS rebinding: a second lookup answering with another address must not be used."""
    services.webhook_allow_address(user=admin_user, network="127.0.0.1")
    answers = iter(["127.0.0.1", "10.9.9.9"])
    calls = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    result = webhooks.send(url=f"http://hooks.example.test:{receiver.port}/x", secret="s", event="e", delivery_id=1, payload={})
    assert result.ok and calls == ["hooks.example.test"]
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.test:{receiver.port}"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://192.168.0.5/hook",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/hook", "http://[fd00:ec2::254]/", "http://100.64.0.1/",
    "http://[::ffff:127.0.0.1]/", "ftp://example.com/", "http://user:pw@example.com/",
])
def test_it_refuses_unsafe_webhook_urls_at_creation(admin_user, url):
    response = api_for(admin_user).post("/api/v1/webhooks/", {"name": "x", "url": url}, format="json")
    assert response.status_code == 400, url
    assert "url" in response.json()["error"]["fields"]
    assert not Webhook.objects.exists()


def test_it_accepts_an_allow_listed_private_address_and_shows_the_secret_once(admin_user, receiver):
    client = api_for(admin_user)
    assert client.post("/api/v1/webhook-allowed-addresses/", {"network": "not-an-ip"}, format="json").status_code == 400
    assert client.post("/api/v1/webhook-allowed-addresses/", {"network": "127.0.0.0/8"}, format="json").status_code == 201
    response = client.post("/api/v1/webhooks/", {"name": "ci", "url": receiver.url, "events": ["deployment.deployed"]}, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()["secret"]) >= 32
    detail = client.get(f"/api/v1/webhooks/{response.json()['id']}/").json()
    assert "secret" not in detail
    response = client.post("/api/v1/webhooks/", {"name": "x", "url": receiver.url, "events": ["nope"]}, format="json")
    assert response.status_code == 400 and "events" in response.json()["error"]["fields"]


def test_it_delivers_on_commit_through_the_task(ds_owner, version, receiver, admin_user, run_jobs_inline,
                                                 django_capture_on_commit_callbacks):
    services.webhook_allow_address(user=admin_user, network="127.0.0.1")
    _hook(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        _submit_uat(ds_owner, version)
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert len(receiver.requests) == 1


def test_it_sweeps_due_deliveries(ds_owner, version, receiver, admin_user, run_jobs_inline):
    from governance.tasks import sweep_webhooks

    services.webhook_allow_address(user=admin_user, network="127.0.0.1")
    _hook(receiver.url)
    _submit_uat(ds_owner, version)  # on-commit dispatch never runs in this test transaction: as if the broker was down
    assert WebhookDelivery.objects.get().status == "pending"
    assert sweep_webhooks.delay().get() == 1
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert WebhookAllowedAddress.objects.count() == 1


def test_it_emits_version_registered_with_the_registration(ds_owner, credit_model):
    from tests.governance.fixtures import make_version

    Webhook.objects.create(name="ci", url="http://127.0.0.1:9/", secret="s", events=["version.registered"])
    v = make_version(user=ds_owner, model=credit_model)
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["data"] == {"model": "credit-scoring", "version": v.version, "version_id": v.pk,
                                        "status": "pending_upload"}
