"""Reads for the MLflow API: restricted through ``restrict`` (the one choke
point) and lean — a response costs a fixed handful of queries whatever its
length (versions, their aliases, their stages; models, their latest versions)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from django.db.models import F, Func, OuterRef, QuerySet, Subquery, TextField

from governance.mlflow import filters, governance, wire
from governance.mlflow.wire import RESOURCE_DOES_NOT_EXIST, MlflowError, invalid
from modelgate.core.permissions import restrict
from registry import aliases
from registry.models import ModelAlias, ModelVersion, RegisteredModel

MAX_INT = 2**31 - 1  # version numbers are 32-bit integer columns


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
    if not 1 <= number <= MAX_INT:
        raise invalid(f"Parameter 'version' must be a positive integer, got {raw!r}.")
    return number


# --- single-row reads: restricted querysets, one query each.

_MODEL_FIELDS = tuple(f.attname for f in RegisteredModel._meta.concrete_fields)
_VERSION_ANNOTATIONS = ("creator_username", "mlflow_aliases", *governance.stage_annotations())
# What MLflow's wire shows of a version (wire.model_version). Reads that only answer
# in MLflow's format select these in ``values()``: the schema, signature-sample,
# environment, metrics and params JSON no answer shows are not read nor decoded.
_WIRE_VERSION_FIELDS = (
    "id", "registered_model_id", "version", "status", "status_message", "description", "source_uri", "run_id", "logged_model_id", "tags",
    "created_at", "updated_at",
)


def _first(queryset: QuerySet):
    """The one row of a lookup on a unique key, or None: no ``ORDER BY`` (the models'
    default ordering would only make the planner consider walking an ordered index)."""
    rows = list(queryset.order_by()[:1])
    return rows[0] if rows else None


def _wire_row(row: dict) -> SimpleNamespace:
    """A ``values()`` row as an object the wire functions can read, for reads whose
    rows go straight into an answer (no model objects to build per row and per
    joined model). ``registered_model__*`` columns become a nested ``registered_model``."""
    own, model = {}, {}
    for key, value in row.items():
        if key.startswith("registered_model__"):
            model[key[18:]] = value
        else:
            own[key] = value
    if model:
        own["registered_model"] = SimpleNamespace(**model)
    return SimpleNamespace(**own)


def _version_values(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        creator_username=F("created_by__username"), mlflow_aliases=_alias_names(), **governance.stage_annotations()
    ).values(*_WIRE_VERSION_FIELDS, *(f"registered_model__{name}" for name in _MODEL_FIELDS), *_VERSION_ANNOTATIONS)


def model_get(*, user, name: str) -> RegisteredModel:
    model = _first(
        restrict(RegisteredModel.objects.annotate(creator_username=F("created_by__username")), user).filter(name=name)
    )
    if model is None:
        raise model_not_found(name)
    return model


def version_get(*, user, name: str, version) -> ModelVersion:
    number = version_number(version)
    found = _first(versions(user=user).filter(registered_model__name=name, version=number))
    if found is None:
        raise version_not_found(name, number)
    return found


def version_for_wire(*, user, name: str, version) -> SimpleNamespace:
    """``version_get`` for a read that only answers with the version: as ``version_wire`` reads it."""
    number = version_number(version)
    row = _first(_version_values(restrict(ModelVersion.objects.all(), user)).filter(registered_model__name=name, version=number))
    if row is None:
        raise version_not_found(name, number)
    return _wire_row(row)


def version_ref(*, user, name: str, version) -> ModelVersion:
    """The version and its model as a write needs them: without the read's
    annotations (creator, aliases, stages), which cost more than the lookup."""
    number = version_number(version)
    found = _first(
        restrict(ModelVersion.objects.select_related("registered_model"), user).filter(registered_model__name=name, version=number)
    )
    if found is None:
        raise version_not_found(name, number)
    return found


def version_by_alias(*, user, name: str, alias: str) -> SimpleNamespace:
    """The version ``alias`` points to, as ``version_wire`` reads it (not a model object)."""
    row = _first(_version_values(restrict(ModelVersion.objects.all(), user)).filter(registered_model__name=name, aliases__alias=alias))
    # An alias its rule no longer allows (a reserved alias whose approval went stale) resolves to nothing.
    if row is None or not aliases.target_allowed(alias=alias, version=row["id"]):
        model_get(user=user, name=name)  # a missing (or invisible) model is 404
        # MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE, not 404.
        raise invalid(f"Registered model alias {alias} not found.")
    return _wire_row(row)


def versions_wire(items: list) -> list[dict]:
    """Wire dicts for versions (model objects read through ``versions()``, or ``_wire_row`` rows): aliases and
    stages come annotated, no extra query."""
    return [
        wire.model_version(
            v, model_name=v.registered_model.name, stage=governance.stage_of(v),
            aliases=sorted(v.mlflow_aliases.split(",")) if v.mlflow_aliases else (),
        )
        for v in items
    ]


def version_wire(version) -> dict:
    return versions_wire([version])[0]


_NEWEST_ANNOTATIONS = ("creator_username", *governance.stage_annotations())


def _newest_versions(model_ids: list[int]) -> QuerySet:
    newest = Subquery(
        ModelVersion.objects.filter(registered_model_id=OuterRef("registered_model_id")).order_by("-version").values("version")[:1]
    )
    return ModelVersion.objects.filter(registered_model_id__in=model_ids, version=newest).annotate(
        creator_username=F("created_by__username"), **governance.stage_annotations()
    ).order_by().values(*_WIRE_VERSION_FIELDS, *_NEWEST_ANNOTATIONS)


def models_wire(items: list) -> list[dict]:
    """Wire dicts for models (model objects or ``_wire_row`` rows) with their newest version and aliases: +1 query for the
    newest versions (a correlated subquery on the (model, version) index, stages
    annotated), +1 for aliases — never one query per model."""
    if not items:
        return []
    ids = [m.id for m in items]
    by_model = {row["registered_model_id"]: _wire_row(row) for row in _newest_versions(ids)}
    aliases: dict[int, list[tuple[str, int]]] = defaultdict(list)
    model_aliases = ModelAlias.objects.filter(registered_model_id__in=ids).order_by("alias")
    for model_id, alias, number in model_aliases.values_list("registered_model_id", "alias", "version__version"):
        aliases[model_id].append((alias, number))
    out = []
    for model in items:
        newest_version = by_model.get(model.id)
        latest_wire = []
        if newest_version is not None:
            latest_wire = [wire.model_version(newest_version, model_name=model.name, stage=governance.stage_of(newest_version))]
        out.append(wire.registered_model(model, latest_versions=latest_wire, aliases=aliases.get(model.id, ())))
    return out


# --- searches ---------------------------------------------------------------------


def models_page(*, user, conditions: list, ordering: list[str], offset: int, limit: int) -> list[SimpleNamespace]:
    """One page of the models ``user`` sees, matching the parsed filter ``conditions``,
    as ``models_wire`` reads them (not model objects)."""
    queryset = restrict(RegisteredModel.objects.annotate(creator_username=F("created_by__username")), user)
    queryset = filters.apply_conditions(queryset, conditions).order_by(*ordering)
    return [_wire_row(row) for row in queryset.values(*_MODEL_FIELDS, "creator_username")[offset:offset + limit]]


def versions_page(*, user, conditions: list, ordering: list[str], offset: int, limit: int) -> list[SimpleNamespace]:
    """One page of the versions ``user`` sees, matching the parsed filter ``conditions``,
    as ``versions_wire`` reads them (not model objects)."""
    queryset = filters.apply_conditions(restrict(ModelVersion.objects.all(), user), conditions).order_by(*ordering)
    return [_wire_row(row) for row in _version_values(queryset)[offset:offset + limit]]


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
