"""Thin Celery interface over the job runner (modelgate.core.jobs)."""

import os

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from modelgate.core import jobs
from modelgate.core.models import Job, JobStatus


# acks_late + reject_on_worker_lost: a pool child killed mid-task (SIGKILL, OOM) makes the
# worker requeue the message instead of acknowledging it, so the job runs again (marked
# redelivered). Only that one job: with chunked jobs, one chunk.
@shared_task(name="core.run_job", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def run_job(self, job_id: str):
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    if redelivered:
        # The previous worker process died mid-run: try again, a bounded number of times.
        job = Job.objects.filter(pk=job_id).first()
        if job and job.status == JobStatus.RUNNING:
            limit = settings.JOB_CHUNK_MAX_ATTEMPTS if job.parent_id else 2
            if job.attempts >= limit:
                jobs.finish(job_id, error=f"The worker stopped {job.attempts} times while running this job.")
                return
            Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(status=JobStatus.QUEUED)
    if not jobs.claim(job_id, worker=f"{self.request.hostname or 'local'}:{os.getpid()}"):
        return  # already taken, finished, or gone (rolled back)
    try:
        jobs.execute(job_id)
    except SoftTimeLimitExceeded:
        jobs.finish(job_id, error="The job exceeded its time limit.")
    except jobs.TransientJobError as exc:
        if self.request.retries >= self.max_retries:
            jobs.give_up(job_id, f"Gave up after {self.request.retries + 1} attempts: {exc}")
            return
        raise self.retry(exc=exc, countdown=2 ** self.request.retries * settings.JOB_RETRY_BACKOFF_SECONDS) from exc


@shared_task(name="core.sweep_jobs")
def sweep_jobs():
    return jobs.sweep()
