"""Reserved aliases: alias names bound to an environment.

``prod``, ``production`` and ``champion`` belong to Prod, ``staging`` and ``uat`` to
UAT (names compared case-insensitively). Such an alias may only point at a version
that is approved for that environment (an approved request whose approval is not
older than the environment allows) or serving there (in its active deployment), so
``models:/name@champion`` never hands out a version that did not pass Prod's gates
and approvals.

Registered with the registry's alias rules (``registry.aliases``) in
``GovernanceConfig.ready()``: the registry refuses, resolves and repairs aliases
through it. The services that change what it reads (deployments, rollbacks,
retirements, expired or cancelled approvals) call ``enforce`` in their transaction;
an alias that became ineligible moves to the version carrying most of the
environment's traffic, or is removed when nothing serves there.
"""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from governance.choices import DeploymentStatus, RequestState
from governance.models import DeploymentSplit, Environment, PromotionRequest
from registry import services as registry_services
from registry.aliases import AliasRule
from registry.models import ModelVersion, RegisteredModel

RESERVED_ALIASES = {"prod": "prod", "production": "prod", "champion": "prod", "staging": "uat", "uat": "uat"}
CODE = "reserved_alias"


def environment_of(alias: str) -> str | None:
    """The slug of the environment ``alias`` is bound to, or None for a free alias."""
    return RESERVED_ALIASES.get(alias.lower())


def _active_splits(slug: str) -> QuerySet[DeploymentSplit]:
    return DeploymentSplit.objects.filter(deployment__environment__slug=slug, deployment__status=DeploymentStatus.ACTIVE)


def eligible_versions(alias: str) -> QuerySet[ModelVersion]:
    """Versions serving in the alias's environment or approved for it (and not stale)."""
    slug = environment_of(alias)
    approved = PromotionRequest.objects.filter(environment__slug=slug, state=RequestState.APPROVED)
    max_age = Environment.objects.filter(slug=slug).values_list("approval_max_age_days", flat=True).first()
    if max_age:
        # As promotion_request_deploy judges it: stale once older than the policy allows.
        cutoff = timezone.now() - datetime.timedelta(days=max_age)
        approved = approved.filter(Q(decided_at__isnull=True) | Q(decided_at__gte=cutoff))
    return ModelVersion.objects.filter(
        Q(pk__in=_active_splits(slug).values("version_id")) | Q(pk__in=approved.values("version_id"))
    )


def explain(alias: str, version) -> str:
    name = environment_of(alias).upper()
    return (
        f"Alias {alias!r} is bound to the {name} environment: version {version.version} is neither approved for "
        f"nor deployed in {name}. Open a promotion request to {name} (transition-stage or the portal) first."
    )


def serving_version(alias: str, model_id: int) -> ModelVersion | None:
    """The version taking most of the model's traffic in the alias's environment (the newest on a tie)."""
    split = (
        _active_splits(environment_of(alias)).filter(deployment__registered_model_id=model_id)
        .select_related("version").order_by("-weight", "-version__version").first()
    )
    return split.version if split else None


RULE = AliasRule(
    code=CODE, governs=lambda alias: environment_of(alias) is not None, eligible=eligible_versions,
    explain=explain, replacement=serving_version,
)


def enforce(*, model: RegisteredModel, user, reason: str) -> None:
    """Repair the model's reserved aliases after ``reason`` changed what they may point at."""
    actor = user if user is not None and user.is_authenticated else None
    registry_services.aliases_enforce_rules(registered_model=model, user=actor, reason=reason)
