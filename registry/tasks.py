"""Job handlers of the registry (found by the job runner as ``registry.tasks``)."""

from django.conf import settings

from modelgate.core.jobs import TransientJobError, job_handler
from registry import services, tracking


@job_handler(services.RESOLVE_RUN_JOB)
def resolve_training_run(job, report_progress):
    """A tracking server that is down or overloaded is retried with backoff (the job goes
    back to queued, and the task runner retries it); anything else — or the last attempt —
    fails the job with the reason, which the version page shows."""
    try:
        return services.modelversion_resolve_training_run(version_id=job.params["version_id"])
    except tracking.TrackingServerError as exc:
        attempt = job.attempts + 1  # this one
        if exc.transient and attempt < settings.MLFLOW_RUN_RESOLVE_MAX_ATTEMPTS:
            raise TransientJobError(f"{exc.message} (attempt {attempt} of {settings.MLFLOW_RUN_RESOLVE_MAX_ATTEMPTS}; retrying)") from None
        if exc.transient:
            raise RuntimeError(f"{exc.message} Gave up after {attempt} attempts.") from None
        raise RuntimeError(exc.message) from None
