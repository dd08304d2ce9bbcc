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
    assert outcome == {"failed_stuck": 1, "redispatched": 1, "requeued_chunks": 0, "failed_chunks": 0}
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


# --- chunked jobs (FanOut) ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_chunks_of_a_fanned_out_job_one_after_another_in_process_then_merges(run_jobs_inline):
    with transaction.atomic():
        job = jobs.enqueue(kind="core.ping", params={"chunks": 4})

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.progress == 100
    assert job.chunks_total == job.chunks_done == 4
    assert job.result["numbers"] == [0, 1, 2, 3]  # the merge reads the chunks in order
    chunks = list(job.chunks.order_by("chunk_index"))
    assert [c.chunk_index for c in chunks] == [0, 1, 2, 3]
    assert all(c.status == JobStatus.SUCCEEDED and c.attempts == 1 for c in chunks)
    assert all(c.finished_at <= job.finished_at for c in chunks)


@pytest.mark.django_db(transaction=True)
def test_it_fails_the_parent_and_its_unstarted_chunks_when_one_chunk_fails(run_jobs_inline):
    with transaction.atomic():
        job = jobs.enqueue(kind="core.ping", params={"chunks": 3, "fail_chunk": 1})

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "Chunk 2 of 3 failed" in job.error and "chunk 1 was told to fail" in job.error
    states = dict(job.chunks.values_list("chunk_index", "status"))
    assert states == {0: JobStatus.SUCCEEDED, 1: JobStatus.FAILED, 2: JobStatus.FAILED}
    assert "another chunk" in job.chunks.get(chunk_index=2).error
    assert job.chunks.get(chunk_index=2).attempts == 0  # never run


def _waiting_parent(chunks: int) -> Job:
    parent = Job.objects.create(kind="core.ping", status=JobStatus.RUNNING, params={"chunks": chunks})
    jobs.fan_out(parent.pk, jobs.FanOut("core.ping_chunk", [{"number": n} for n in range(chunks)]))
    return parent


def test_it_counts_finished_chunks_as_progress_and_queues_the_merge_after_the_last(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        parent = _waiting_parent(4)
    chunk_ids = list(parent.chunks.order_by("chunk_index").values_list("pk", flat=True))
    seen = []
    for chunk_id in chunk_ids:
        assert jobs.claim(chunk_id)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            jobs.finish(chunk_id, result={"number": 0, "worker": "w"})
        parent.refresh_from_db()
        seen.append((parent.chunks_done, parent.progress, parent.status, len(callbacks)))
    assert seen == [
        (1, 20, JobStatus.RUNNING, 0), (2, 40, JobStatus.RUNNING, 0), (3, 60, JobStatus.RUNNING, 0),
        (4, 80, JobStatus.QUEUED, 1),  # the last finisher, and only it, dispatches the merge
    ]
    assert jobs.finish(chunk_ids[0], result={}) is False  # a second finish of a chunk counts nothing
    parent.refresh_from_db()
    assert parent.chunks_done == 4
    assert jobs.claim(parent.pk)
    parent.refresh_from_db()
    assert parent.progress == 80  # the merge starts from the chunks' progress


def test_it_requeues_chunks_of_a_lost_worker_node_and_leaves_their_waiting_parent_alone(db, settings, django_capture_on_commit_callbacks):
    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=False):
        parent = _waiting_parent(2)
    old = timezone.now() - timezone.timedelta(hours=3)
    Job.objects.filter(pk=parent.pk).update(started_at=old)
    first, second = parent.chunks.order_by("chunk_index")
    Job.objects.filter(pk=first.pk).update(status=JobStatus.RUNNING, started_at=old, attempts=1, dispatched_at=timezone.now())
    Job.objects.filter(pk=second.pk).update(status=JobStatus.RUNNING, started_at=old, attempts=settings.JOB_CHUNK_MAX_ATTEMPTS,
                                            dispatched_at=timezone.now())
    settings.JOB_DISPATCH_GRACE_SECONDS = 3600  # nothing counts as a lost dispatch here

    outcome = jobs.sweep()

    assert outcome == {"failed_stuck": 0, "redispatched": 0, "requeued_chunks": 1, "failed_chunks": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    parent.refresh_from_db()
    assert first.status == JobStatus.QUEUED and "Re-queued" in first.error and first.dispatched_at is None
    assert second.status == JobStatus.FAILED and f"{settings.JOB_CHUNK_MAX_ATTEMPTS} times" in second.error
    assert parent.status == JobStatus.FAILED and "Chunk 2 of 2 failed" in parent.error


def test_it_does_not_fail_a_parent_waiting_longer_than_the_time_limit_for_its_chunks(db, django_capture_on_commit_callbacks):
    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=False):
        parent = _waiting_parent(2)
    Job.objects.filter(pk=parent.pk).update(started_at=timezone.now() - timezone.timedelta(hours=3))
    jobs.sweep()
    parent.refresh_from_db()
    assert parent.status == JobStatus.RUNNING and parent.is_waiting_for_chunks


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_on_a_transient_failure_after_the_retries(run_jobs_inline):
    from modelgate.core.tasks import run_job

    job = Job.objects.create(kind="core.flaky")
    jobs.job_handler("core.flaky")(lambda job, progress: (_ for _ in ()).throw(jobs.TransientJobError("store unreachable")))
    run_job.delay(str(job.pk))  # eager: the retries run at once
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "Gave up after 4 attempts: store unreachable" in job.error
    assert job.attempts == 4


@pytest.mark.worker
@pytest.mark.xdist_group("celery-worker")
@pytest.mark.django_db(transaction=True)
def test_it_retries_a_transiently_failing_chunk_on_its_own_in_a_real_worker(celery_worker_process):
    with transaction.atomic():
        job = jobs.enqueue(kind="core.ping", params={"chunks": 4, "transient_chunk": 2})

    done = wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=60)
    job.refresh_from_db()
    assert done, f"job still {job.status} ({job.chunks_done}/{job.chunks_total} chunks)"
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["numbers"] == [0, 1, 2, 3]
    attempts = dict(job.chunks.values_list("chunk_index", "attempts"))
    assert attempts == {0: 1, 1: 1, 2: 2, 3: 1}  # only the failing chunk ran again
    assert "a passing hiccup" in job.chunks.get(chunk_index=2).error  # the last transient error stays visible
