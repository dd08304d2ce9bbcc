"""Celery tasks and job handlers of the monitoring app (discovered by the job
runner and Celery through this module); one module per concern."""

from monitoring.report_tasks import (  # noqa: F401 (imported to register the handlers)
    reconcile_reports,
    run_drift,
    run_explainability,
    run_fairness,
    run_what_if,
)
