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

Work that splits by rows returns ``FanOut(chunk_kind, chunks, state)`` instead:
one chunk Job per entry (children of this job, dispatched like any job, so any
worker process may take any chunk). The parent stays ``running`` while
``chunks_done`` counts finished chunks; the chunk whose finish makes the count
complete (decided under a row lock on the parent) puts the parent back in the
queue, and its next run calls the handler registered as ``<kind>.merge``,
which reads the chunks' results in ``chunk_index`` order. A chunk that fails
fails its parent. See docs/architecture.md, "Chunked jobs".
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Value, When
from django.utils import timezone

from modelgate.core.models import Job, JobStatus

logger = logging.getLogger(__name__)

_HANDLERS: dict[str, Callable] = {}


class TransientJobError(Exception):
    """Raise from a handler for a failure worth retrying (the job goes back to queued)."""


MERGE_SUFFIX = ".merge"


@dataclass(frozen=True)
class FanOut:
    """What a handler returns to split its work into chunk jobs (see the module docstring)."""

    chunk_kind: str
    chunks: list[dict]  # one chunk job's params each, in the order the merge reads them
    state: dict = field(default_factory=dict)  # kept as the parent's result until its merge runs


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


def claim(job_id, *, worker: str = "") -> bool:
    """Compare-and-swap queued → running; only one worker ever wins.

    A parent claimed for its merge keeps the progress its chunks reached.
    """
    now = timezone.now()
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=now, worker=worker[:200],
            progress=Case(When(chunks_total=0, then=Value(0)), default=F("progress"), output_field=PositiveSmallIntegerField()),
        )
    )


def set_progress(job_id, percent: int) -> None:
    percent = max(0, min(100, int(percent)))
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(progress=percent)


def finish(job_id, *, result=None, error: str = "") -> bool:
    """End a running job; a chunk also counts itself on its parent. True if this call ended it."""
    fields = {"finished_at": timezone.now()}
    if error:
        fields.update(status=JobStatus.FAILED, error=error[:20000])
    else:
        fields.update(status=JobStatus.SUCCEEDED, progress=100, result=result)
    parent_id = Job.objects.filter(pk=job_id).values_list("parent_id", flat=True).first()
    if parent_id is None:
        return bool(Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(**fields))
    with transaction.atomic():
        # Parent first, then the chunk: every path locks in this order, so concurrent
        # finishers queue on the parent's row and exactly one of them sees the count complete.
        parent = Job.objects.select_for_update().get(pk=parent_id)
        if not Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(**fields):
            return False
        if error:
            _fail_parent(parent, f"Chunk {_chunk_label(job_id, parent)} failed: {error}")
        else:
            _count_chunk(parent)
    return True


def _chunk_label(job_id, parent: Job) -> str:
    index = Job.objects.filter(pk=job_id).values_list("chunk_index", flat=True).first()
    return f"{(index or 0) + 1} of {parent.chunks_total}"


def _count_chunk(parent: Job) -> None:
    """One more chunk done (caller holds the parent's row lock); the last one queues the merge."""
    if parent.status != JobStatus.RUNNING:
        return  # the parent failed meanwhile: nothing left to merge
    done = parent.chunks_done + 1
    # Progress counts finished chunks; the merge is one more step, so 100 % only when it ends.
    fields = {"chunks_done": done, "progress": done * 100 // (parent.chunks_total + 1)}
    if done == parent.chunks_total:
        fields.update(status=JobStatus.QUEUED, attempts=0, dispatched_at=None)
        transaction.on_commit(lambda: dispatch(parent.pk))
    Job.objects.filter(pk=parent.pk).update(**fields)


def _fail_parent(parent: Job, error: str) -> None:
    """Fail a waiting parent and its chunks not yet started (caller holds the parent's row lock)."""
    now = timezone.now()
    if parent.status == JobStatus.RUNNING:
        Job.objects.filter(pk=parent.pk).update(status=JobStatus.FAILED, error=error[:20000], finished_at=now)
    Job.objects.filter(parent=parent, status=JobStatus.QUEUED).update(
        status=JobStatus.FAILED, finished_at=now, error="Not run: another chunk of this job failed.",
    )


def fan_out(job_id, plan: FanOut) -> None:
    """Create the chunk jobs of a running job and dispatch them when this transaction commits."""
    if not plan.chunks:
        raise ValueError("a fan-out needs at least one chunk")
    with transaction.atomic():
        parent = Job.objects.select_for_update().get(pk=job_id)
        if parent.status != JobStatus.RUNNING:
            return
        chunks = Job.objects.bulk_create([
            Job(kind=plan.chunk_kind, params=params, parent=parent, chunk_index=index, created_by_id=parent.created_by_id,
                object_type=parent.object_type, object_id=parent.object_id)
            for index, params in enumerate(plan.chunks)
        ])
        Job.objects.filter(pk=job_id).update(chunks_total=len(chunks), chunks_done=0, result={"plan": plan.state})
        ids = [chunk.pk for chunk in chunks]
        transaction.on_commit(lambda: [dispatch(chunk_id) for chunk_id in ids])


def execute(job_id) -> None:
    """Run a claimed job's handler (its merge handler once its chunks are done) and
    terminate the job in every path."""
    from modelgate.core.context import actor_context

    job = Job.objects.select_related("created_by").get(pk=job_id)
    Job.objects.filter(pk=job_id).update(attempts=job.attempts + 1)
    kind = f"{job.kind}{MERGE_SUFFIX}" if job.chunks_total else job.kind
    try:
        handler = get_handler(kind)
    except KeyError:
        finish(job_id, error=f"no handler is registered for job kind {kind!r}")
        return
    with actor_context(source="task", user=job.created_by, request_id=str(job.parent_id or job.pk)):
        try:
            result = handler(job, lambda pct: set_progress(job_id, pct))
            if isinstance(result, FanOut):
                fan_out(job_id, result)
                return  # the last chunk to finish queues the merge
        except TransientJobError as exc:
            # Back in the queue; the task retries it (with backoff): a dispatch, so the sweeper waits.
            Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
                status=JobStatus.QUEUED, error=str(exc), dispatched_at=timezone.now()
            )
            raise
        except Exception as exc:
            logger.exception("job %s (%s) failed", job_id, kind)
            message = str(exc) or exc.__class__.__name__
            finish(job_id, error=f"{message}\n\n{traceback.format_exc(limit=5)}")
            return
    finish(job_id, result=result)


def give_up(job_id, error: str) -> None:
    """Fail a queued job that will not be tried again (e.g. its transient retries are spent)."""
    if claim(job_id):
        finish(job_id, error=error)


def sweep() -> dict:
    """Re-dispatch queued jobs whose dispatch was lost; fail jobs stuck running.

    A chunk running past ``JOB_STALE_CHUNK_SECONDS`` (its worker node was lost: nothing will
    redeliver it before the broker's visibility timeout) goes back to the queue instead, until it has been
    tried ``JOB_CHUNK_MAX_ATTEMPTS`` times. A parent waiting for its chunks is not stuck.
    """
    now = timezone.now()
    grace = timezone.timedelta(seconds=settings.JOB_DISPATCH_GRACE_SECONDS)
    stale = timezone.timedelta(seconds=settings.JOB_STALE_RUNNING_SECONDS)
    stuck = (
        Job.objects.filter(status=JobStatus.RUNNING, parent__isnull=True, started_at__lt=now - stale)
        .exclude(chunks_done__lt=F("chunks_total"))
        .update(status=JobStatus.FAILED, finished_at=now,
                error="The worker stopped while running this job (no result within the time limit).")
    )
    requeued = failed_chunks = 0
    stale_chunk = timezone.timedelta(seconds=settings.JOB_STALE_CHUNK_SECONDS)
    stale_chunks = Job.objects.filter(status=JobStatus.RUNNING, parent__isnull=False, started_at__lt=now - stale_chunk)
    for chunk_id, attempts, started_at, parent_status in stale_chunks.values_list("pk", "attempts", "started_at", "parent__status")[:500]:
        if parent_status != JobStatus.RUNNING:
            finish(chunk_id, error="Abandoned: its parent job had already ended.")
        elif attempts >= settings.JOB_CHUNK_MAX_ATTEMPTS:
            failed_chunks += finish(chunk_id, error=f"The worker stopped while running this chunk, {attempts} times.")
        elif Job.objects.filter(pk=chunk_id, status=JobStatus.RUNNING, started_at=started_at).update(
            status=JobStatus.QUEUED, dispatched_at=None, error="Re-queued: its worker stopped answering (no result within the time limit).",
        ):
            requeued += 1
    lost_ids = list(
        Job.objects.filter(status=JobStatus.QUEUED)
        .filter(created_at__lt=now - grace)
        .exclude(dispatched_at__gt=now - grace)
        .values_list("pk", flat=True)[:500]
    )
    for job_id in lost_ids:
        dispatch(job_id)
    return {"failed_stuck": stuck, "redispatched": len(lost_ids), "requeued_chunks": requeued, "failed_chunks": failed_chunks}


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
    if job.params.get("chunks"):  # exercise the fan-out path: each chunk echoes its number, the merge lists them
        return FanOut("core.ping_chunk", [
            {"number": n, "fail": n == job.params.get("fail_chunk"), "transient": n == job.params.get("transient_chunk"), "sleep": job.params.get("sleep", 0)}
            for n in range(int(job.params["chunks"]))
        ])
    return {"pong": True, "echo": job.params.get("echo")}


@job_handler("core.ping_chunk")
def ping_chunk(job, report_progress):
    import time

    time.sleep(float(job.params.get("sleep", 0)))
    if job.params.get("fail"):
        raise ValueError(f"chunk {job.params['number']} was told to fail")
    if job.params.get("transient") and job.attempts == 0:  # first try only
        raise TransientJobError(f"chunk {job.params['number']}: a passing hiccup")
    return {"number": job.params["number"], "worker": job.worker}


@job_handler(f"core.ping{MERGE_SUFFIX}")
def ping_merge(job, report_progress):
    results = job.chunks.order_by("chunk_index").values_list("result", flat=True)
    return {"pong": True, "numbers": [r["number"] for r in results], "workers": sorted({r["worker"] for r in results})}
