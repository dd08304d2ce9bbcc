"""Job handlers of the MLflow adapter (found by the job runner as ``governance.mlflow.tasks``)."""

from governance.mlflow import services
from modelgate.core.jobs import job_handler


@job_handler(services.VERIFY_JOB)
def verify_source(job, report_progress):
    return services.model_version_verify(user=job.created_by, version_id=job.params["version_id"])
