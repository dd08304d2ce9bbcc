"""Every non-trivial read of the registry: restricted to what the user may see
(``restrict`` — the one choke point) and prefetched so lists cost a fixed number
of queries whatever their length."""

from __future__ import annotations

from django.db import connection
from django.db.models import Prefetch, QuerySet

from modelgate.core.errors import NotFoundError
from modelgate.core.models import Job, JobStatus
from modelgate.core.permissions import restrict
from registry import tracking
from registry.choices import VersionStatus
from registry.models import (
    Artifact,
    Dataset,
    DatasetVersion,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    TrainingRun,
    VersionParent,
)

MAX_LINEAGE_DEPTH = 10


def registered_models(*, user, action: str = "view") -> QuerySet[RegisteredModel]:
    return restrict(
        RegisteredModel.objects.select_related("team", "created_by", "updated_by").prefetch_related(
            Prefetch("aliases", queryset=ModelAlias.objects.select_related("version").order_by("alias"))
        ),
        user,
        action,
    )


def visible_model_ids(user) -> QuerySet:
    """Ids of the registered models ``user`` may see (as a subquery)."""
    return restrict(RegisteredModel.objects.all(), user, "view").values("pk")


def registered_model_get(*, user, name: str, action: str = "view") -> RegisteredModel:
    model = registered_models(user=user, action=action).filter(name=name).first()
    if model is None:
        raise NotFoundError(f"No model named {name!r}.")
    return model


def model_versions(*, user, action: str = "view") -> QuerySet[ModelVersion]:
    return restrict(
        ModelVersion.objects.select_related("registered_model__team", "training_run", "created_by").prefetch_related(
            Prefetch("artifacts", queryset=Artifact.objects.select_related("blob").order_by("path")),
            Prefetch("aliases", queryset=ModelAlias.objects.order_by("alias")),
            Prefetch("parent_links", queryset=VersionParent.objects.select_related("parent__registered_model")),
            Prefetch("trained_on", queryset=DatasetVersion.objects.select_related("dataset")),
        ),
        user,
        action,
    )


def model_version_get(*, user, name: str, version: int | str, action: str = "view") -> ModelVersion:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise NotFoundError(f"No version {version!r} of model {name!r}.") from None
    obj = model_versions(user=user, action=action).filter(registered_model__name=name, version=number).first()
    if obj is None:
        raise NotFoundError(f"No version {number} of model {name!r}.")
    return obj


def artifacts(*, user) -> QuerySet[Artifact]:
    return restrict(Artifact.objects.select_related("blob", "version__registered_model"), user, "view")


def artifact_get(*, user, name: str, version: int | str, path: str) -> Artifact:
    """404 for a model the user cannot see, exactly as for one that does not exist."""
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise NotFoundError("No such artifact.") from None
    obj = artifacts(user=user).filter(version__registered_model__name=name, version__version=number, path=path).first()
    if obj is None:
        raise NotFoundError(f"No artifact {path!r} in version {number} of model {name!r}.")
    return obj


def source_reference_visible(*, user, ref) -> bool:
    """Does the user see what a source URI names here (``sources.Reference``)? A blob counts
    as visible when it is attached to an artifact the user sees; a version when it is ready."""
    if ref.sha256:
        return artifacts(user=user).filter(blob_id=ref.sha256).exists()
    if ref.version is not None:
        return restrict(ModelVersion.objects.all(), user, "view").filter(
            registered_model__name=ref.model, version=ref.version, status=VersionStatus.READY
        ).exists()
    return restrict(RegisteredModel.objects.filter(name=ref.model), user, "view").exists()


def datasets(*, user, action: str = "view") -> QuerySet[Dataset]:
    return restrict(Dataset.objects.select_related("team"), user, action)


def dataset_versions(*, user, action: str = "view") -> QuerySet[DatasetVersion]:
    return restrict(DatasetVersion.objects.select_related("dataset__team"), user, action)


def training_runs(*, user, action: str = "view") -> QuerySet[TrainingRun]:
    return restrict(TrainingRun.objects.select_related("team"), user, action)


def training_run_resolution(*, version: ModelVersion) -> dict | None:
    """Where finding the training run of an MLflow 3 logged model stands, for the version
    page (None when there is nothing to find: the run is known, or no logged model).

    ``state`` is one of ``unconfigured`` (no tracking server: says how to configure one),
    ``not_requested`` (registered before one was configured), ``resolving``,
    ``retrying`` (the last attempt failed; ``message`` says why) or ``failed``.
    The job (``tracking.RESOLVE_RUN_JOB``) is the source of truth; one query.
    """
    if version.training_run_id or version.run_id or not version.logged_model_id:
        return None
    job = (
        Job.objects.filter(kind=tracking.RESOLVE_RUN_JOB, object_type="registry.modelversion", object_id=str(version.pk))
        .order_by("-created_at").first()
    )
    # The reason, without the traceback the job runner appends for operators.
    reason = job.error.split("\n\n", 1)[0] if job is not None else ""
    if job is None:
        if not tracking.configured():
            return {"state": "unconfigured", "message": tracking.CONFIGURE_HINT, "job": None}
        return {"state": "not_requested", "message": "The version was registered before a tracking server was configured.", "job": None}
    if job.status == JobStatus.FAILED:
        return {"state": "failed", "message": reason, "job": job}
    if job.status == JobStatus.SUCCEEDED:  # succeeded without a run: the version was not the job's to change
        return {"state": "failed", "message": str((job.result or {}).get("skipped", "")), "job": job}
    return {"state": "retrying" if reason else "resolving", "message": reason, "job": job}


# --- lineage graph ----------------------------------------------------------

_VP = VersionParent._meta.db_table

# Both directions in one recursive query: the first column is 'u' (ancestors) or
# 'd' (descendants). The table name is our own model's constant, never input.
_WALK_SQL = f"""
WITH RECURSIVE up(id, depth) AS (
    SELECT parent_id, 1 FROM {_VP} WHERE child_id = %s
    UNION
    SELECT e.parent_id, up.depth + 1 FROM {_VP} e JOIN up ON e.child_id = up.id WHERE up.depth < %s
), down(id, depth) AS (
    SELECT child_id, 1 FROM {_VP} WHERE parent_id = %s
    UNION
    SELECT e.child_id, down.depth + 1 FROM {_VP} e JOIN down ON e.parent_id = down.id WHERE down.depth < %s
)
SELECT 'u', id, MIN(depth) FROM up GROUP BY id
UNION ALL
SELECT 'd', id, MIN(depth) FROM down GROUP BY id
"""  # noqa: S608


def lineage_walk(version_id: int, depth: int) -> dict[int, int]:
    """Ids of the versions within ``depth`` derived-from hops of ``version_id``, each
    with its level: negative upstream (ancestors), positive downstream, 0 for itself.

    Guarantee: one query whatever the size of the graph (a recursive CTE, on
    PostgreSQL and SQLite alike), ending even on a cyclic graph (the depth bounds
    each branch); a version reachable both ways keeps its upstream level. Visibility
    is not checked here: callers restrict the ids they show.
    """
    with connection.cursor() as cursor:
        cursor.execute(_WALK_SQL, [version_id, depth, version_id, depth])
        walked = cursor.fetchall()
    levels = {version_id: 0}
    for direction, pk, level in sorted(walked, key=lambda row: row[0] != "u"):  # upstream first: setdefault keeps it
        if pk != version_id:
            levels.setdefault(pk, -level if direction == "u" else level)
    return levels


def lineage_graph(*, user, version: ModelVersion, depth: int = 3) -> dict:
    """Upstream and downstream of ``version`` to ``depth`` hops, in a fixed number of queries:

    1. the recursive walk over derived-from edges (both directions);
    2. the visible nodes (restricted), with model and training run joined;
    3. the edges among them;
    4. the dataset versions each node was trained on (prefetch).

    Versions the user may not see are left out and counted in ``hidden``, so the
    graph never leaks another team's model names.
    """
    depth = max(1, min(int(depth), MAX_LINEAGE_DEPTH))
    levels = lineage_walk(version.pk, depth)
    nodes = list(
        restrict(
            ModelVersion.objects.select_related("registered_model__team", "training_run").prefetch_related(
                Prefetch("trained_on", queryset=DatasetVersion.objects.select_related("dataset"))
            ),
            user,
            "view",
        ).filter(pk__in=levels)
    )
    visible = {node.pk for node in nodes}
    edges = list(
        VersionParent.objects.filter(child_id__in=visible, parent_id__in=visible).values("child_id", "parent_id", "relation")
    )
    return {
        "root": version.pk,
        "depth": depth,
        "nodes": sorted(
            ({"version": node, "level": levels[node.pk]} for node in nodes), key=lambda n: (n["level"], n["version"].pk)
        ),
        "edges": edges,
        "hidden": len(set(levels) - visible),
    }
