"""The one place the MLflow adapter talks to governance.

The registry knows nothing of governance (dependencies point registry ←
governance); this adapter sits on top of both, so it imports governance lazily
and only when the app is installed. Without governance, stages read "None" and
``transition-stage`` is refused. Reserved aliases (champion, prod…) are not checked
here: the registry's alias service applies governance's rule (``registry.aliases``).
"""

from __future__ import annotations

from django.apps import apps
from django.db import transaction

from modelgate.core.errors import ApplicationError, ConflictError
from registry.mlflow.wire import FEATURE_DISABLED, STAGE_NONE, MlflowError, invalid

# MLflow stage → governance environment slug.
STAGE_ENVIRONMENTS = {"staging": "uat", "production": "prod"}
ENVIRONMENT_STAGES = {"uat": "Staging", "prod": "Production"}
STAGES = ("None", "Staging", "Production", "Archived")


def enabled() -> bool:
    return apps.is_installed("governance")


def stage_annotations(version_ref: str = "pk") -> dict:
    """``Exists`` annotations (in Prod / in UAT) to read stages inside the main query,
    saving a round trip per read; ``stage_of`` turns them into MLflow's stage name."""
    if not enabled():
        return {}
    from django.db.models import Exists, OuterRef

    from governance.choices import DeploymentStatus
    from governance.models import DeploymentSplit

    def deployed_in(slug):
        return Exists(DeploymentSplit.objects.filter(
            version_id=OuterRef(version_ref), deployment__status=DeploymentStatus.ACTIVE, deployment__environment__slug=slug,
        ))

    return {"mlflow_in_prod": deployed_in("prod"), "mlflow_in_uat": deployed_in("uat")}


def stage_of(version) -> str:
    if getattr(version, "mlflow_in_prod", False):
        return "Production"
    if getattr(version, "mlflow_in_uat", False):
        return "Staging"
    return STAGE_NONE


def deployed_versions(model_id: int) -> dict[int, str]:
    """version id → stage for the versions of one model in an active UAT/Prod deployment."""
    if not enabled():
        return {}
    from governance.choices import DeploymentStatus
    from governance.models import DeploymentSplit

    rows = DeploymentSplit.objects.filter(
        deployment__registered_model_id=model_id, deployment__status=DeploymentStatus.ACTIVE,
        deployment__environment__slug__in=list(ENVIRONMENT_STAGES),
    ).values_list("version_id", "deployment__environment__slug")
    out: dict[int, str] = {}
    for version_id, slug in rows:
        if out.get(version_id) != "Production":
            out[version_id] = ENVIRONMENT_STAGES[slug]
    return out


def normalise_stage(stage) -> str:
    for name in STAGES:
        if isinstance(stage, str) and stage.strip().lower() == name.lower():
            return name
    raise invalid(f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}.")


def request_promotion(*, user, version, stage: str) -> None:
    """``transition-stage`` to Staging/Production: open (and submit) a promotion request.

    The version itself does not move: approvers decide. A request that the
    environment's gates block at submission stays open as a draft, so the team
    can see in the portal why and act; an already open request is left as is.
    """
    if not enabled():
        raise MlflowError(FEATURE_DISABLED, "Stage transitions need the governance app, which is not installed.")
    slug = STAGE_ENVIRONMENTS.get(stage.lower())
    if slug is None:
        raise invalid(
            f"Stage {stage!r} cannot be set through MLflow: Modelgate governs Staging and Production through promotion "
            "requests; archive or retire versions in the portal."
        )
    from governance import services as governance_services
    from governance.models import Environment

    environment = Environment.objects.filter(slug=slug).first()
    if environment is None:
        raise invalid(f"No {slug.upper()} environment is configured.")
    with transaction.atomic():
        try:
            req = governance_services.promotion_request_create(
                user=user, version=version, environment=environment,
                reason=f"Requested through the MLflow API: transition-stage to {stage}.",
            )
        except ConflictError as exc:
            if exc.code == "duplicate_request":
                return
            raise
        try:
            with transaction.atomic():
                governance_services.promotion_request_submit(user=user, request=req)
        except ApplicationError:
            # Gates or policy block submission: the draft stays, with the reason visible in the portal.
            pass
