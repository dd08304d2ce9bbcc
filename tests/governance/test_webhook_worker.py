"""Webhook delivery through a real Celery worker over Redis: the change commits, the
outbox row is dispatched on commit, the worker process signs and sends it."""

import pytest

from governance import services
from governance.models import Environment, Webhook, WebhookDelivery
from tests.conftest import wait_for
from tests.governance.fixtures import post_passing_ci
from tests.governance.test_webhooks import Receiver

pytestmark = [
    pytest.mark.worker,
    pytest.mark.xdist_group("celery-worker"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_environments"),
]


def test_it_delivers_a_signed_webhook_from_the_worker(celery_worker_process, ds_owner, admin_user, version):
    receiver = Receiver()
    try:
        services.webhook_allow_address(user=admin_user, network="127.0.0.1")
        Webhook.objects.create(name="ci", url=receiver.url, secret="worker-secret", events=["request.opened"])
        post_passing_ci(user=ds_owner, version=version)
        req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
        services.promotion_request_submit(user=ds_owner, request=req)
        delivered = wait_for(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(), timeout=45)
        assert delivered, list(WebhookDelivery.objects.values("status", "last_error", "attempts"))
        assert len(receiver.requests) == 1
        assert receiver.requests[0]["headers"]["X-Modelgate-Event"] == "request.opened"
        assert receiver.requests[0]["headers"]["X-Modelgate-Signature"].startswith("sha256=")
    finally:
        receiver.close()
