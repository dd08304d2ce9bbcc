"""Reads for the MLflow API: restricted through ``restrict`` (the one choke
point) and lean — a response costs a fixed handful of queries whatever its
length (versions, their aliases, their stages; models, their latest versions)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import F, Func, OuterRef, QuerySet, Subquery, TextField

from modelgate.core.permissions import restrict
from registry.mlflow import governance, wire
from registry.mlflow.wire import RESOURCE_DOES_NOT_EXIST, MlflowError, invalid
from registry.models import ModelAlias, ModelVersion, RegisteredModel


def models(*, user, action: str = "view") -> QuerySet[RegisteredModel]:
    return restrict(RegisteredModel.objects.annotate(creator_username=F("created_by__username")), user, action)


class _AliasList(Func):
    """Comma-joined alias names of the outer version, as one column (alias names hold no commas)."""

    output_field = TextField()

    def __init__(self, **extra):
        super().__init__(F("alias"), **extra)

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="STRING_AGG", template="%(function)s(%(expressions)s, ',')", **extra)


def _alias_names():
    # Aliases of each version inside the main query: one round trip less per read.
    return Subquery(
        ModelAlias.objects.filter(version_id=OuterRef("pk")).order_by().values("version_id").annotate(names=_AliasList()).values("names")[:1]
    )


def versions(*, user, action: str = "view") -> QuerySet[ModelVersion]:
    return restrict(
        ModelVersion.objects.select_related("registered_model").annotate(
            creator_username=F("created_by__username"), mlflow_aliases=_alias_names(), **governance.stage_annotations()
        ),
        user,
        action,
    )


def model_not_found(name: str) -> MlflowError:
    return MlflowError(RESOURCE_DOES_NOT_EXIST, f"Registered Model with name={name} not found")


def version_not_found(name: str, number) -> MlflowError:
    return MlflowError(RESOURCE_DOES_NOT_EXIST, f"Model Version (name={name}, version={number}) not found")


def version_number(raw) -> int:
    try:
        number = int(str(raw))
    except (TypeError, ValueError):
        raise invalid(f"Parameter 'version' must be an integer, got {raw!r}.") from None
    if number < 1:
        raise invalid(f"Parameter 'version' must be a positive integer, got {raw!r}.")
    return number


def model_get(*, user, name: str) -> RegisteredModel:
    model = models(user=user).filter(name=name).first()
    if model is None:
        raise model_not_found(name)
    return model


def version_get(*, user, name: str, version) -> ModelVersion:
    number = version_number(version)
    obj = versions(user=user).filter(registered_model__name=name, version=number).first()
    if obj is None:
        raise version_not_found(name, number)
    return obj


def version_by_alias(*, user, name: str, alias: str) -> ModelVersion:
    obj = versions(user=user).filter(registered_model__name=name, aliases__alias=alias).first()
    if obj is None:
        model_get(user=user, name=name)  # a missing (or invisible) model is 404
        # MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE, not 404.
        raise invalid(f"Registered model alias {alias} not found.")
    return obj


def versions_wire(items: list[ModelVersion]) -> list[dict]:
    """Wire dicts for versions read through ``versions()``: aliases and stages come annotated, no extra query."""
    return [
        wire.model_version(
            v, model_name=v.registered_model.name, stage=governance.stage_of(v),
            aliases=sorted(v.mlflow_aliases.split(",")) if v.mlflow_aliases else (),
        )
        for v in items
    ]


def version_wire(version: ModelVersion) -> dict:
    return versions_wire([version])[0]


def models_wire(items: list[RegisteredModel]) -> list[dict]:
    """Wire dicts for models with their newest version and aliases: +1 query for the
    newest versions (a correlated subquery on the (model, version) index, stages
    annotated), +1 for aliases — never one query per model."""
    if not items:
        return []
    ids = [m.pk for m in items]
    newest = Subquery(
        ModelVersion.objects.filter(registered_model_id=OuterRef("registered_model_id")).order_by("-version").values("version")[:1]
    )
    latest = list(
        ModelVersion.objects.filter(registered_model_id__in=ids, version=newest).annotate(
            creator_username=F("created_by__username"), **governance.stage_annotations()
        )
    )
    by_model = {v.registered_model_id: v for v in latest}
    aliases: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for model_id, alias, number in (
        ModelAlias.objects.filter(registered_model_id__in=ids).order_by("alias").values_list("registered_model_id", "alias", "version__version")
    ):
        aliases[model_id].append((alias, number))
    out = []
    for model in items:
        newest_version = by_model.get(model.pk)
        latest_wire = []
        if newest_version is not None:
            latest_wire = [wire.model_version(newest_version, model_name=model.name, stage=governance.stage_of(newest_version))]
        out.append(wire.registered_model(model, latest_versions=latest_wire, aliases=aliases.get(model.pk, ())))
    return out


def latest_versions(*, user, model: RegisteredModel, stages: list[str]) -> list[ModelVersion]:
    """MLflow's get-latest-versions: the newest version per stage (stages from governance deployments)."""
    deployed = governance.deployed_versions(model.pk)
    wanted = [governance.normalise_stage(s) for s in stages] if stages else ["None", "Staging", "Production"]
    base = versions(user=user).filter(registered_model=model)
    out: list[ModelVersion] = []
    for stage in dict.fromkeys(wanted):
        if stage == "None":
            found = base.exclude(pk__in=list(deployed)).order_by("-version").first()
        elif stage == "Archived":
            found = None  # archiving is a governance lifecycle state, not an MLflow stage here
        else:
            ids = [pk for pk, s in deployed.items() if s == stage]
            found = base.filter(pk__in=ids).order_by("-version").first() if ids else None
        if found is not None and found not in out:
            out.append(found)
    return out
