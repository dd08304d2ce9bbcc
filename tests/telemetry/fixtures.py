"""Deployments for telemetry tests, created as rows (Prod is read-only through the
governance services, and these tests are about telemetry, not promotion)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from guardian.shortcuts import assign_perm

from governance.models import Deployment, DeploymentSplit, Environment
from registry.choices import VersionStatus
from registry.models import ModelVersion, RegisteredModel


def _environment(slug: str) -> Environment:
    # Seeded by a data migration; a transactional test before this one flushed it, so re-create it then.
    order = {"dev": 10, "uat": 20, "prod": 30}[slug]
    return Environment.objects.get_or_create(slug=slug, defaults={"name": slug.upper() if slug == "uat" else slug.title(),
                                                                  "order": order})[0]


def make_model(team, name: str) -> RegisteredModel:
    model = RegisteredModel.objects.create(name=name, team=team)
    for perm in ("view_registeredmodel", "change_registeredmodel"):
        assign_perm(f"registry.{perm}", team.group, model)
    return model


def make_deployment(team, name: str = "scorecard", *, env: str = "prod", versions=((1, 100),),
                    created_at: datetime | None = None) -> Deployment:
    model = make_model(team, name)
    deployment = Deployment.objects.create(
        environment=_environment(env), registered_model=model,
        created_at=created_at or datetime.now(UTC) - timedelta(days=2),
    )
    for number, weight in versions:
        version = ModelVersion.objects.create(registered_model=model, version=number, status=VersionStatus.READY)
        DeploymentSplit.objects.create(deployment=deployment, version=version, weight=weight)
    model.last_version = max(n for n, _ in versions)
    model.save(update_fields=["last_version"])
    return deployment


def events(n: int, *, start: datetime, prefix: str = "e", latency_ms: float = 20.0, status: str = "ok",
           spacing_s: float = 1.0, version: int | None = None, **extra) -> list[dict]:
    out = []
    for i in range(n):
        ev = {"event_id": f"{prefix}{i}", "timestamp": (start + timedelta(seconds=i * spacing_s)).isoformat(),
              "latency_ms": latency_ms, "status": status, **extra}
        if version is not None:
            ev["version"] = version
        out.append(ev)
    return out
