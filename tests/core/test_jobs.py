import pytest
from django.db import transaction

from modelgate.core import jobs
from modelgate.core.models import Job, JobStatus
from tests.conftest import wait_for


@pytest.mark.django_db(transaction=True)
def test_it_never_runs_a_job_enqueued_in_a_rolled_back_transaction(run_jobs_inline):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with transaction.atomic():
            job = jobs.enqueue(kind="core.ping", params={"echo": "never"})
            job_id = job.pk
            raise Boom

    assert not Job.objects.filter(pk=job_id).exists()


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_committed_job_in_process_and_records_success(run_jobs_inline):
    with transaction.atomic():
        job = jobs.enqueue(kind="core.ping", params={"echo": "hello", "steps": 4})

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.progress == 100
    assert job.result == {"pong": True, "echo": "hello"}
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    assert job.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_it_records_the_error_text_when_a_job_fails(run_jobs_inline):
    with transaction.atomic():
        job = jobs.enqueue(kind="core.ping", params={"fail": "the data was malformed"})

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "the data was malformed" in job.error
    assert job.finished_at is not None


def test_it_dispatches_only_after_commit(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        jobs.enqueue(kind="core.ping")
    assert len(callbacks) == 1


def test_it_lets_only_one_claim_win(db):
    job = Job.objects.create(kind="core.ping")
    assert jobs.claim(job.pk) is True
    assert jobs.claim(job.pk) is False


def test_it_fails_jobs_stuck_running_and_redispatches_lost_ones(db, settings, run_jobs_inline):
    from django.utils import timezone

    old = timezone.now() - timezone.timedelta(hours=3)
    stuck = Job.objects.create(kind="core.ping", status=JobStatus.RUNNING, started_at=old)
    lost = Job.objects.create(kind="core.ping", created_at=old)

    outcome = jobs.sweep()

    stuck.refresh_from_db()
    lost.refresh_from_db()
    assert stuck.status == JobStatus.FAILED and "worker stopped" in stuck.error
    assert outcome == {"failed_stuck": 1, "redispatched": 1}
    assert lost.status == JobStatus.SUCCEEDED


def test_it_fails_a_job_of_an_unknown_kind(db, run_jobs_inline):
    job = Job.objects.create(kind="nope.unknown", status=JobStatus.RUNNING)
    jobs.execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "no handler" in job.error


@pytest.mark.worker
@pytest.mark.xdist_group("celery-worker")
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_job_in_a_real_worker_over_redis(celery_worker_process):
    with transaction.atomic():
        job = jobs.enqueue(kind="core.ping", params={"echo": "from-worker", "steps": 2})

    done = wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=30)
    job.refresh_from_db()
    assert done, f"job still {job.status} after 30 s"
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"pong": True, "echo": "from-worker"}
    assert job.progress == 100
