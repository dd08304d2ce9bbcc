"""Faults: the broker is down when a task is requested."""

import time

import pytest
from django.db import transaction
from django.test import Client

from modelgate.core import jobs
from modelgate.core.models import Job, JobStatus
from tests.conftest import api_for, wait_for


@pytest.fixture
def broker_down():
    """Point the Celery app at a port where nothing listens (as if Redis had stopped)."""
    from modelgate.celery import app

    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = "redis://127.0.0.1:6399/0"
    app.conf.task_always_eager = False
    # Connection and producer pools are built from broker_url on first use and cached:
    # drop them so publishing really goes to the dead address.
    app._pool = None
    app.amqp._producer_pool = None
    assert ":6399" in app.connection_for_write().as_uri()
    yield app
    app.conf.broker_url, app.conf.task_always_eager = saved
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_it_keeps_requested_jobs_when_the_broker_is_down_and_sends_them_later(broker_down, ds_owner, settings):
    started = time.monotonic()
    with transaction.atomic():
        job = jobs.enqueue(kind="core.ping", params={"echo": "survived"}, user=ds_owner)
    elapsed = time.monotonic() - started

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED  # the row is the outbox: nothing lost
    assert elapsed < 10, f"a dead broker must not hang the request ({elapsed:.1f} s)"

    # The API keeps answering meanwhile.
    assert api_for(ds_owner).get("/api/v1/me/").status_code == 200
    assert Client().get("/healthz").status_code == 200

    # The broker comes back (in-process here); the sweeper dispatches what was waiting.
    broker_down.conf.task_always_eager = True
    settings.JOB_DISPATCH_GRACE_SECONDS = 0
    outcome = jobs.sweep()

    assert outcome["redispatched"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.status, job.error, job.attempts, outcome)
    assert job.result["echo"] == "survived"


@pytest.mark.worker
@pytest.mark.xdist_group("celery-worker")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_leaves_it_failed_or_retried_never_running(celery_worker_process, settings):
    import os
    import signal

    with transaction.atomic():
        job = jobs.enqueue(kind="core.ping", params={"steps": 50, "sleep": 0.2})
    assert wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.RUNNING, timeout=30)

    os.killpg(celery_worker_process.pid, signal.SIGKILL)
    celery_worker_process.wait(timeout=10)

    # Beat's sweeper runs every minute; here it is invoked as beat would, with a short limit.
    settings.JOB_STALE_RUNNING_SECONDS = 0
    jobs.sweep()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "worker stopped" in job.error
