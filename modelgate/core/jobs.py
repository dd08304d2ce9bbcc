"""The job runner: create a Job in the caller's transaction, dispatch on commit.

Handlers are plain functions registered by kind::

    @job_handler("monitoring.fairness_report")
    def run(job, report_progress): ...

A handler returns a JSON-able result (stored on the job) or raises; the job
ends ``succeeded`` or ``failed`` in every path. ``report_progress(pct)``
stores progress (0–100) as the handler goes.

Each app registers its handlers by importing its tasks module in its
``AppConfig.ready()``, so every process (web, worker, command) knows them all
once Django is set up; the runner never looks modules up by name.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from modelgate.core.models import Job, JobStatus

logger = logging.getLogger(__name__)

_HANDLERS: dict[str, Callable] = {}


class TransientJobError(Exception):
    """Raise from a handler for a failure worth retrying (the job goes back to queued)."""


def job_handler(kind: str):
    def register(func):
        _HANDLERS[kind] = func
        return func

    return register


def get_handler(kind: str) -> Callable:
    """The handler registered for ``kind``; ``KeyError`` if no installed app registered one."""
    return _HANDLERS[kind]


def enqueue(*, kind: str, params: dict | None = None, user=None, obj=None) -> Job:
    """Create a queued job and dispatch it when the surrounding transaction commits.

    Rolled back → the job row vanishes and nothing is sent.
    """
    job = Job(kind=kind, params=params or {}, created_by=user if user and user.is_authenticated else None)
    if obj is not None:
        job.object_type = obj._meta.label_lower
        job.object_id = str(obj.pk)
    job.full_clean()
    job.save()
    transaction.on_commit(lambda: dispatch(job.pk))
    return job


def dispatch(job_id) -> bool:
    """Send the job to the broker (or run it in-process with no broker).

    A failed publish leaves the job queued: the sweeper sends it again.
    """
    from modelgate.core.tasks import run_job

    Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(dispatched_at=timezone.now())
    try:
        run_job.delay(str(job_id))
    except Exception:  # broker down: the database row is the outbox
        logger.warning("could not dispatch job %s; it stays queued for the sweeper", job_id, exc_info=True)
        return False
    return True


def claim(job_id) -> bool:
    """Compare-and-swap queued → running; only one worker ever wins."""
    now = timezone.now()
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=now, progress=0
        )
    )


def set_progress(job_id, percent: int) -> None:
    percent = max(0, min(100, int(percent)))
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(progress=percent)


def finish(job_id, *, result=None, error: str = "") -> None:
    fields = {"finished_at": timezone.now()}
    if error:
        fields.update(status=JobStatus.FAILED, error=error[:20000])
    else:
        fields.update(status=JobStatus.SUCCEEDED, progress=100, result=result)
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(**fields)


def execute(job_id) -> None:
    """Run a claimed job's handler and terminate the job in every path."""
    from modelgate.core.context import actor_context

    job = Job.objects.select_related("created_by").get(pk=job_id)
    Job.objects.filter(pk=job_id).update(attempts=job.attempts + 1)
    try:
        handler = get_handler(job.kind)
    except KeyError:
        finish(job_id, error=f"no handler is registered for job kind {job.kind!r}")
        return
    with actor_context(source="task", user=job.created_by, request_id=str(job.pk)):
        try:
            result = handler(job, lambda pct: set_progress(job_id, pct))
        except TransientJobError as exc:
            Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
                status=JobStatus.QUEUED, error=str(exc), dispatched_at=None
            )
            raise
        except Exception as exc:
            logger.exception("job %s (%s) failed", job_id, job.kind)
            message = str(exc) or exc.__class__.__name__
            finish(job_id, error=f"{message}\n\n{traceback.format_exc(limit=5)}")
            return
    finish(job_id, result=result)


def sweep() -> dict:
    """Re-dispatch queued jobs whose dispatch was lost; fail jobs stuck running."""
    now = timezone.now()
    grace = timezone.timedelta(seconds=settings.JOB_DISPATCH_GRACE_SECONDS)
    stale = timezone.timedelta(seconds=settings.JOB_STALE_RUNNING_SECONDS)
    stuck = Job.objects.filter(status=JobStatus.RUNNING, started_at__lt=now - stale).update(
        status=JobStatus.FAILED,
        finished_at=now,
        error="The worker stopped while running this job (no result within the time limit).",
    )
    lost_ids = list(
        Job.objects.filter(status=JobStatus.QUEUED)
        .filter(created_at__lt=now - grace)
        .exclude(dispatched_at__gt=now - grace)
        .values_list("pk", flat=True)[:500]
    )
    for job_id in lost_ids:
        dispatch(job_id)
    return {"failed_stuck": stuck, "redispatched": len(lost_ids)}


@job_handler("core.ping")
def ping(job, report_progress):
    """A trivial job used by health checks and tests of the worker path."""
    import time

    steps = int(job.params.get("steps", 1))
    for i in range(steps):
        time.sleep(float(job.params.get("sleep", 0)))
        report_progress((i + 1) * 100 // steps)
    if job.params.get("fail"):
        raise ValueError(job.params["fail"])
    return {"pong": True, "echo": job.params.get("echo")}
