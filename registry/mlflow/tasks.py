"""Job handlers of the MLflow adapter (found by the job runner as ``registry.mlflow.tasks``)."""

from modelgate.core.jobs import job_handler
from registry.mlflow import services


@job_handler(services.VERIFY_JOB)
def verify_source(job, report_progress):
    return services.model_version_verify(user=job.created_by, version_id=job.params["version_id"])
