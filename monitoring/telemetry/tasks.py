"""Celery beat tasks of SLA monitoring (thin: each calls one service).

Schedules live in ``CELERY_BEAT_SCHEDULE`` (settings): rollups and rule
evaluation every minute, retention every hour.
"""

from datetime import datetime

from celery import shared_task

from modelgate.core.context import actor_context
from monitoring.telemetry import services


@shared_task(name="telemetry.rollup", acks_late=True, soft_time_limit=50, time_limit=58, ignore_result=True)
def rollup():
    with actor_context(source="task"):
        return services.rollup_pending()


@shared_task(name="telemetry.evaluate_rules", acks_late=True, soft_time_limit=50, time_limit=58, ignore_result=True)
def evaluate_rules(now: str | None = None):
    # Rolls up pending minutes first, so a rule never judges a minute the rollup has not seen.
    # ``now`` (ISO 8601) replays a given minute; beat sends nothing and the worker's clock decides.
    with actor_context(source="task"):
        return services.evaluate_rules(now=datetime.fromisoformat(now) if now else None)


@shared_task(name="telemetry.retention", acks_late=True, ignore_result=True)
def retention():
    with actor_context(source="task"):
        return services.retention_cleanup()
