"""Reads for the MLflow API: restricted through ``restrict`` (the one choke
point) and lean — a response costs a fixed handful of queries whatever its
length (versions, their aliases, their stages; models, their latest versions)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from types import SimpleNamespace

from django.db.models import F, Func, OuterRef, QuerySet, Subquery, TextField

from modelgate.core.permissions import NOTHING, restrict, restrict_as, restriction
from modelgate.core.prepared import attnames, instance, int_placeholder, prepared, str_placeholder
from registry import aliases
from registry.mlflow import filters, governance, wire
from registry.mlflow.wire import RESOURCE_DOES_NOT_EXIST, MlflowError, invalid
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


# --- single-row reads, prepared (core.prepared): restricted querysets compiled once per
# restriction decision instead of on every request.

_MODEL_FIELDS = attnames(RegisteredModel)
_VERSION_FIELDS = attnames(ModelVersion)
_VERSION_ANNOTATIONS = ("creator_username", "mlflow_aliases", *governance.stage_annotations())
# What MLflow's wire shows of a version (wire.model_version). Reads that only answer
# in MLflow's format select these and leave the rest deferred: decoding the schema,
# signature-sample, environment, metrics and params JSON no answer shows was ~40 %
# of the CPU of a 25-row models search.
_WIRE_VERSION_FIELDS = (
    "id", "registered_model_id", "version", "status", "status_message", "description", "source_uri", "run_id", "tags",
    "created_at", "updated_at",
)


def _restricted_rows(model, user, key: str, build, action: str = "view", **values) -> list[dict]:
    """Rows of a prepared ``.values()`` query over ``restrict(model, user, action)``."""
    decided = restriction(user, model, action)
    if decided == NOTHING:
        return []
    placeholders = {"user_id": int_placeholder()}
    for name, value in values.items():
        placeholders[name] = int_placeholder() if isinstance(value, int) else str_placeholder(name)

    def build_for(user_id, **filters):
        base = restrict_as(model.objects.all(), decided, user_id, action)
        return build(base, **filters)

    query = prepared(("registry.mlflow", key, decided, action), build_for, **placeholders)
    return query.run(user_id=user.pk, **values)


def _model_from_row(row: dict, prefix: str = "") -> RegisteredModel:
    return instance(RegisteredModel, row, prefix)


def _model_with_creator(row: dict) -> RegisteredModel:
    model = _model_from_row(row)
    model.creator_username = row["creator_username"]
    return model


def _version_from_row(row: dict, annotations=_VERSION_ANNOTATIONS) -> ModelVersion:
    version = instance(ModelVersion, row)
    version.registered_model = _model_from_row(row, "registered_model__")
    for name in annotations:
        setattr(version, name, row[name])
    return version


def _wire_row(row: dict) -> SimpleNamespace:
    """A prepared row as an object the wire functions can read, for reads whose rows
    go straight into an answer: building model objects (signals, descriptors, one
    per row and per joined model) was ~25 % of the CPU of a 25-row models search.
    ``registered_model__*`` columns become a nested ``registered_model``."""
    own, model = {}, {}
    for key, value in row.items():
        if key.startswith("registered_model__"):
            model[key[18:]] = value
        else:
            own[key] = value
    if model:
        own["registered_model"] = SimpleNamespace(**model)
    return SimpleNamespace(**own)


def _version_values(queryset: QuerySet, fields=_VERSION_FIELDS) -> QuerySet:
    return queryset.annotate(
        creator_username=F("created_by__username"), mlflow_aliases=_alias_names(), **governance.stage_annotations()
    ).values(*fields, *(f"registered_model__{name}" for name in _MODEL_FIELDS), *_VERSION_ANNOTATIONS)


def _unique(queryset: QuerySet) -> QuerySet:
    """At most one row, for a lookup on a unique key, without the model's default
    ordering: with ``ORDER BY registered_model_id, version DESC LIMIT 1`` the generic
    plan of the prepared get-by-alias walked the whole model table in primary-key
    order to find one name (0.86 ms and ~1,200 buffers per call at 1,400 models,
    growing with the registry) instead of probing the name index."""
    return queryset.order_by()[:1]


def model_get(*, user, name: str) -> RegisteredModel:
    rows = _restricted_rows(
        RegisteredModel, user, "model_by_name",
        lambda qs, name: _unique(qs.filter(name=name).annotate(creator_username=F("created_by__username")).values(*_MODEL_FIELDS, "creator_username")),
        name=name,
    )
    if not rows:
        raise model_not_found(name)
    return _model_with_creator(rows[0])


def _version_by_number(user, name: str, version, key: str, values, from_row):
    """One version by model name and number through the restricted, prepared read:
    ``values`` picks the columns from the filtered queryset, ``from_row`` builds the answer."""
    number = version_number(version)
    rows = _restricted_rows(
        ModelVersion, user, key,
        lambda qs, name, number: _unique(values(qs.filter(registered_model__name=name, version=number))),
        name=name, number=number,
    )
    if not rows:
        raise version_not_found(name, number)
    return from_row(rows[0])


def version_get(*, user, name: str, version) -> ModelVersion:
    return _version_by_number(user, name, version, "version_by_number", _version_values, _version_from_row)


def version_for_wire(*, user, name: str, version) -> SimpleNamespace:
    """``version_get`` for a read that only answers with the version: as ``version_wire`` reads it."""
    return _version_by_number(
        user, name, version, "version_for_wire", lambda qs: _version_values(qs, _WIRE_VERSION_FIELDS), _wire_row
    )


def version_ref(*, user, name: str, version) -> ModelVersion:
    """The version and its model as a write needs them: without the read's
    annotations (creator, aliases, stages), which cost more than the lookup."""
    return _version_by_number(
        user, name, version, "version_ref",
        lambda qs: qs.values(*_VERSION_FIELDS, *(f"registered_model__{field}" for field in _MODEL_FIELDS)),
        lambda row: _version_from_row(row, annotations=()),
    )


def version_by_alias(*, user, name: str, alias: str) -> SimpleNamespace:
    """The version ``alias`` points to, as ``version_wire`` reads it (not a model object)."""
    rows = _restricted_rows(
        ModelVersion, user, "version_by_alias",
        lambda qs, name, alias: _unique(_version_values(qs.filter(registered_model__name=name, aliases__alias=alias), _WIRE_VERSION_FIELDS)),
        name=name, alias=alias,
    )
    # An alias its rule no longer allows (a reserved alias whose approval went stale) resolves to nothing.
    if not rows or not aliases.target_allowed(alias=alias, version=rows[0]["id"]):
        model_get(user=user, name=name)  # a missing (or invisible) model is 404
        # MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE, not 404.
        raise invalid(f"Registered model alias {alias} not found.")
    return _wire_row(rows[0])


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


def _newest_versions(**ids):
    newest = Subquery(
        ModelVersion.objects.filter(registered_model_id=OuterRef("registered_model_id")).order_by("-version").values("version")[:1]
    )
    return ModelVersion.objects.filter(registered_model_id__in=list(ids.values()), version=newest).annotate(
        creator_username=F("created_by__username"), **governance.stage_annotations()
    ).values(*_WIRE_VERSION_FIELDS, *_NEWEST_ANNOTATIONS)


def _model_aliases(**ids):
    return ModelAlias.objects.filter(registered_model_id__in=list(ids.values())).order_by("alias").values_list(
        "registered_model_id", "alias", "version__version"
    )


def models_wire(items: list) -> list[dict]:
    """Wire dicts for models (model objects or ``_wire_row`` rows) with their newest version and aliases: +1 query for the
    newest versions (a correlated subquery on the (model, version) index, stages
    annotated), +1 for aliases — never one query per model."""
    if not items:
        return []
    ids = [m.id for m in items]
    placeholders = {f"id{i}": int_placeholder() for i in range(len(ids))}
    values = {f"id{i}": pk for i, pk in enumerate(ids)}
    latest_rows = prepared(("registry.mlflow", "newest_versions", len(ids)), _newest_versions, **placeholders).run(**values)
    by_model = {}
    for row in latest_rows:
        by_model[row["registered_model_id"]] = _wire_row(row)
    aliases: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for model_id, alias, number in prepared(("registry.mlflow", "model_aliases", len(ids)), _model_aliases, **placeholders).run(**values):
        aliases[model_id].append((alias, number))
    out = []
    for model in items:
        newest_version = by_model.get(model.id)
        latest_wire = []
        if newest_version is not None:
            latest_wire = [wire.model_version(newest_version, model_name=model.name, stage=governance.stage_of(newest_version))]
        out.append(wire.registered_model(model, latest_versions=latest_wire, aliases=aliases.get(model.id, ())))
    return out


# --- searches, prepared per filter shape, ordering and page window -----------------


def _condition_values(conditions: list[filters.Condition]) -> dict:
    values = {}
    for number, condition in enumerate(conditions):
        if isinstance(condition.value, list):
            values.update({f"c{number}_{i}": item for i, item in enumerate(condition.value)})
        else:
            values[f"c{number}"] = condition.value
    return values


def _conditions_with(conditions: list[filters.Condition], values: dict) -> list[filters.Condition]:
    out = []
    for number, condition in enumerate(conditions):
        if isinstance(condition.value, list):
            value = [values[f"c{number}_{i}"] for i in range(len(condition.value))]
        else:
            value = values[f"c{number}"]
        out.append(dataclasses.replace(condition, value=value))
    return out


def models_page(*, user, conditions: list, ordering: list[str], offset: int, limit: int) -> list[SimpleNamespace]:
    """One page of the models ``user`` sees, matching the parsed filter ``conditions``,
    as ``models_wire`` reads them (not model objects)."""

    def build(qs, **values):
        qs = filters.apply_conditions(qs.annotate(creator_username=F("created_by__username")), _conditions_with(conditions, values))
        return qs.order_by(*ordering).values(*_MODEL_FIELDS, "creator_username")[offset:offset + limit]

    key = ("models_page", tuple(c.shape for c in conditions), tuple(ordering), offset, limit)
    return [_wire_row(row) for row in _restricted_rows(RegisteredModel, user, key, build, **_condition_values(conditions))]


def versions_page(*, user, conditions: list, ordering: list[str], offset: int, limit: int) -> list[SimpleNamespace]:
    """One page of the versions ``user`` sees, matching the parsed filter ``conditions``,
    as ``versions_wire`` reads them (not model objects)."""

    def build(qs, **values):
        qs = filters.apply_conditions(qs, _conditions_with(conditions, values))
        return _version_values(qs.order_by(*ordering), _WIRE_VERSION_FIELDS)[offset:offset + limit]

    key = ("versions_page", tuple(c.shape for c in conditions), tuple(ordering), offset, limit)
    rows = _restricted_rows(ModelVersion, user, key, build, **_condition_values(conditions))
    return [_wire_row(row) for row in rows]


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
