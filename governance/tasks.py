"""Thin Celery interface: webhook delivery from the outbox and the periodic
governance sweep. Business rules live in governance.services."""

from celery import shared_task

from governance import services
from governance.choices import DeliveryStatus


@shared_task(name="governance.deliver_webhook", bind=True, acks_late=True, max_retries=services.WEBHOOK_MAX_ATTEMPTS)
def deliver_webhook(self, delivery_id: int):
    status = services.webhook_delivery_attempt(delivery_id=delivery_id)
    # Eager mode (no broker) ignores countdowns: leave retries to the sweeper there.
    if status == DeliveryStatus.RETRYING and not self.request.is_eager:
        # The row holds the due time too, so a lost retry message is picked up by the sweeper.
        from governance.models import WebhookDelivery

        attempts = WebhookDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first() or 1
        self.apply_async((delivery_id,), countdown=services.webhook_backoff_seconds(attempts))
    return status


@shared_task(name="governance.sweep_webhooks")
def sweep_webhooks():
    """Send outbox rows whose dispatch was lost (broker down at commit) or whose retry is due."""
    ids = services.webhook_due_delivery_ids()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)


@shared_task(name="governance.periodic_review")
def periodic_review():
    """Daily: expire stale approvals and e-mail overdue reviews to owners and risk officers."""
    from modelgate.core.context import actor_context

    with actor_context(source="task"):
        # Alert first, so the owners hear about a stale approval in the run that expires it.
        alerted = services.send_governance_alerts()
        expired = services.expire_stale_approvals()
        # Model risk: overdue findings and revalidations, expired risk acceptances.
        from governance.modelrisk.services import modelrisk_send_overdue_notices

        modelrisk_notices = modelrisk_send_overdue_notices()
    return {"expired": expired, "alerts_sent": alerted, "modelrisk_notices": modelrisk_notices}
