"""Writes of the MLflow API that the registry services do not cover as such.

Each delegates to ``registry.services`` where one exists (so the audit trail
and permission checks are the registry's own) and otherwise follows the same
conventions: keyword-only, one transaction, ``restrict`` for the team axis,
``audit.record`` for every state change.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import ProtectedError

from governance.mlflow.selectors import model_not_found
from governance.mlflow.wire import MlflowError, invalid
from modelgate.core import audit, jobs
from modelgate.core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from modelgate.core.models import Team
from modelgate.core.permissions import has_action_perm, restrict
from registry import services as registry_services
from registry import sources, storage
from registry.choices import VersionStatus
from registry.models import LOGGED_MODEL_ID_VALIDATOR, ArtifactBlob, ModelVersion, RegisteredModel

# MLflow's create has no team: a user in one team creates for it; a user in several
# names it with this tag (it is a directive, not stored as a tag).
TEAM_TAG = "modelgate.team"
# The kind as stored in job rows since the API lived under registry/ (kept so queued jobs still run).
VERIFY_JOB = "registry_mlflow.verify_source"


def tags_from_wire(raw) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, list):
        raise invalid("Parameter 'tags' must be a list of {key, value} objects.")
    tags: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise invalid("Each tag needs a string 'key'.")
        value = item.get("value", "")
        tags[item["key"]] = value if isinstance(value, str) else str(value)
    return tags


def team_for_create(*, user, tags: dict) -> tuple[Team, dict]:
    """The owning team of a model created through MLflow, and the tags left to store."""
    tags = dict(tags)
    slug = tags.pop(TEAM_TAG, None)
    if slug:
        team = Team.objects.filter(group__user=user, slug=slug).first()
        if team is None:
            raise MlflowError("PERMISSION_DENIED", f"You are not a member of team {slug!r} (tag {TEAM_TAG}).")
        return team, tags
    mine = list(Team.objects.filter(group__user=user).order_by("pk")[:2])
    if len(mine) == 1:
        return mine[0], tags
    if not mine:
        raise invalid(f"You belong to no team: name the owning team with the tag {TEAM_TAG}=<team slug>.")
    raise invalid(f"You belong to several teams: name the owning team with the tag {TEAM_TAG}=<team slug>.")


def registered_model_create(*, user, name: str, tags: dict, description: str = "") -> RegisteredModel:
    team, tags = team_for_create(user=user, tags=tags)
    return registry_services.registered_model_create(user=user, name=name, team=team, description=description, tags=tags)


def model_version_create(
    *, user, model_name: str, source: str, run_id: str = "", model_id: str = "", tags: dict | None = None,
    description: str = "",
) -> ModelVersion:
    """Register a version from an MLflow ``source``.

    The registry's service validates the URI, always, as for every surface (and
    refuses a reference to a blob or version the user cannot see). A source in an
    external store (s3, gs, https, runs:…) is never fetched by Modelgate, so there
    is nothing more to verify: the version is READY in this same transaction. A
    ``modelgate:`` source names bytes or a version held here; re-hashing a blob can
    take long, so the version stays PENDING_REGISTRATION until the verification job
    (enqueued in this transaction) marks it READY or FAILED_REGISTRATION, and the
    MLflow client polls ``get`` meanwhile.
    """
    if len(run_id) > 100:
        raise invalid("Parameter 'run_id' is longer than 100 characters.")
    if model_id and not LOGGED_MODEL_ID_VALIDATOR.regex.match(model_id):
        raise invalid("Parameter 'model_id' must be 1–100 letters, digits, '-', '_' or '.' (an MLflow logged-model id).")
    # MLflow 3 sends the logged model's id (source models:/m-…) and no run id: the registry
    # asks the tracking server for the run (registry.services.training_run_resolve_later).
    fields = {"source_uri": source, "run_id": run_id, "logged_model_id": model_id, "tags": tags or {}, "description": description}
    try:
        if not needs_verification(source):
            return registry_services.modelversion_register(user=user, model_name=model_name, ready=True, **fields)[0]
        with transaction.atomic():  # the version and its verification job, or neither
            version, _ = registry_services.modelversion_register(user=user, model_name=model_name, **fields)
            jobs.enqueue(kind=VERIFY_JOB, params={"version_id": version.pk}, user=user, obj=version)
    except NotFoundError:
        raise model_not_found(model_name) from None  # in MLflow's words
    return version


def needs_verification(source: str) -> bool:
    return source.lower().startswith("modelgate:")


def _source_problem(version: ModelVersion, user) -> str:
    """Why the source cannot be accepted ('' if it can). External stores are not
    fetched (no requests from our host to client-chosen URLs). Modelgate's own
    references are checked again as at registration (the user may have lost sight of
    them meanwhile), and a ``modelgate:blobs/<sha256>`` blob must re-hash to its name."""
    try:
        registry_services.source_uri_check(user=user, uri=version.source_uri)
    except ApplicationError as exc:
        return exc.message
    ref = sources.reference(version.source_uri)
    if ref is not None and ref.sha256:
        blob = ArtifactBlob.objects.get(sha256=ref.sha256)  # visible, so stored
        if not storage.verify_blob(blob):
            return f"Stored blob {ref.sha256} does not match its SHA-256."
    return ""


def model_version_verify(*, user, version_id: int) -> dict:
    """The verification job: PENDING_REGISTRATION → READY, or → FAILED_REGISTRATION with the reason."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None or version.status != VersionStatus.PENDING_UPLOAD:
        return {"skipped": True}
    problem = _source_problem(version, user)
    status = VersionStatus.FAILED if problem else VersionStatus.READY
    registry_services.modelversion_finalize(user=user, version=version, status=status, message=problem)
    return {"version_id": version_id, "status": status, "message": problem}


@transaction.atomic
def model_version_delete(*, user, version: ModelVersion) -> None:
    """Delete one version. Versions are records of what was built: only roles
    holding ``delete_modelversion`` (administrators by default) may, and never one
    that promotions or deployments refer to."""
    locked = (
        restrict(ModelVersion.objects.select_related("registered_model__team"), user, "delete")
        .select_for_update(of=("self",)).filter(pk=version.pk).first()
    )
    if locked is None:
        if not has_action_perm(user, ModelVersion, "delete"):
            raise PermissionDeniedError("Your role does not allow deleting model versions (versions are immutable records).")
        raise NotFoundError("No such model version.")
    model = locked.registered_model
    info = {"pk": locked.pk, "number": locked.version}
    try:
        with transaction.atomic():
            locked.delete()
    except ProtectedError:
        raise ConflictError(
            f"Version {info['number']} of {model.name!r} cannot be deleted: promotions, deployments or lineage refer to it."
        ) from None
    audit.record(
        action="registry.version.delete", object_type="registry.modelversion", object_id=str(info["pk"]),
        object_repr=f"{model.name} v{info['number']}", team_slug=model.team.slug, model_name=model.name,
        registered_model_id=model.pk,
        changes={"version": {"before": info["number"], "after": None}},
    )

