"""The one place the MLflow adapter talks to governance: MLflow stages read from
deployments, ``transition-stage`` opening promotion requests.

The adapter sits on top of the registry and governance, so it lives under
``governance/`` and imports both. Reserved aliases (champion, prod…) are not
checked here: the registry's alias service applies governance's rule
(``registry.aliases``).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import OuterRef, Subquery

from governance import services as governance_services
from governance.choices import DeploymentStatus
from governance.mlflow.wire import STAGE_NONE, invalid
from governance.models import DeploymentSplit, Environment
from modelgate.core.errors import ApplicationError, ConflictError

# MLflow stage → governance environment slug.
STAGE_ENVIRONMENTS = {"staging": "uat", "production": "prod"}
ENVIRONMENT_STAGES = {"uat": "Staging", "prod": "Production"}
STAGES = ("None", "Staging", "Production", "Archived")


def stage_annotations(version_ref: str = "pk") -> dict:
    """One subquery annotation to read the stage inside the main query, saving a round trip
    per read: the environment slug of an active UAT/Prod deployment serving the version,
    Prod first ("prod" sorts before "uat"); ``stage_of`` turns it into MLflow's stage name."""
    slug = DeploymentSplit.objects.filter(
        version_id=OuterRef(version_ref), deployment__status=DeploymentStatus.ACTIVE,
        deployment__environment__slug__in=sorted(ENVIRONMENT_STAGES),
    ).order_by("deployment__environment__slug").values("deployment__environment__slug")[:1]
    return {"mlflow_stage_environment": Subquery(slug)}


def stage_of(version) -> str:
    return ENVIRONMENT_STAGES.get(getattr(version, "mlflow_stage_environment", None), STAGE_NONE)


def deployed_versions(model_id: int) -> dict[int, str]:
    """version id → stage for the versions of one model in an active UAT/Prod deployment."""
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
    slug = STAGE_ENVIRONMENTS.get(stage.lower())
    if slug is None:
        raise invalid(
            f"Stage {stage!r} cannot be set through MLflow: Modelgate governs Staging and Production through promotion "
            "requests; archive or retire versions in the portal."
        )
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
