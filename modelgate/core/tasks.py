"""Thin Celery interface over the job runner (modelgate.core.jobs)."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from modelgate.core import jobs
from modelgate.core.models import Job, JobStatus


@shared_task(name="core.run_job", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def run_job(self, job_id: str):
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    if redelivered:
        # The previous worker died mid-run: give the job one more go, then fail it.
        job = Job.objects.filter(pk=job_id).first()
        if job and job.status == JobStatus.RUNNING:
            if job.attempts >= 2:
                jobs.finish(job_id, error="The worker stopped twice while running this job.")
                return
            Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(status=JobStatus.QUEUED)
    if not jobs.claim(job_id):
        return  # already taken, finished, or gone (rolled back)
    try:
        jobs.execute(job_id)
    except SoftTimeLimitExceeded:
        jobs.finish(job_id, error="The job exceeded its time limit.")
    except jobs.TransientJobError as exc:
        raise self.retry(exc=exc, countdown=2 ** self.request.retries * 5) from exc


@shared_task(name="core.sweep_jobs")
def sweep_jobs():
    return jobs.sweep()
