"""Every write of the registry. Keyword-only, validated (``full_clean``), inside
a transaction, and audited with the model name and owning team.

Views (REST, portal, the MLflow-compatible API) restrict their querysets before
calling these; the services re-check the team axis against the restricted
queryset anyway, so a caller that forgets cannot write across teams.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from modelgate.core import audit, jobs, roles
from modelgate.core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from modelgate.core.models import Job, JobStatus, Team
from modelgate.core.permissions import has_action_perm, permission_id, restrict
from registry import aliases, extensions, schemas, selectors, sources, storage, tracking
from registry.choices import ArtifactKind, ParentRelation, SchemaFormat, VersionStatus
from registry.models import (
    COMMIT_VALIDATOR,
    Artifact,
    Dataset,
    DatasetVersion,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    RegisteredModelGroupObjectPermission,
    TrainingRun,
    VersionParent,
)

# What the owning team's group gets on a new model; sharing grants only "view".
TEAM_MODEL_PERMS = ("view_registeredmodel", "change_registeredmodel", "delete_registeredmodel")
TEAM_DATASET_PERMS = ("view_dataset", "change_dataset", "delete_dataset")

# Fields a client may set at registration. Everything but description and tags
# is frozen afterwards (ModelVersion.IMMUTABLE_FIELDS + lineage + artifacts).
REGISTRATION_FIELDS = (
    *ModelVersion.IMMUTABLE_FIELDS, "trained_on", "parents", "tags", "description",
)
FROZEN_AFTER_REGISTRATION = (*ModelVersion.IMMUTABLE_FIELDS, "trained_on", "parents", "artifacts", "version", "registered_model")


def _validation_error(exc: ValidationError) -> ApplicationError:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    first_field, messages = next(iter(fields.items()))
    return ApplicationError(f"{first_field}: {messages[0]}", fields=fields)


def _full_clean(obj, **kwargs) -> None:
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        raise _validation_error(exc) from None


def _require_action(user, model, action: str) -> None:
    if not has_action_perm(user, model, action):
        raise PermissionDeniedError(f"Your role does not allow {action} on {model._meta.verbose_name_plural}.")


def _is_member(user, team: Team) -> bool:
    return user.groups.filter(pk=team.group_id).exists()


def _require_team_member(user, team: Team) -> None:
    if user.is_superuser or roles.has_role(user, roles.ADMIN):
        return
    if not _is_member(user, team):
        raise PermissionDeniedError(
            f"You are not a member of team {team.slug!r}.", fields={"team": ["You are not a member of this team."]}
        )


def _locked_model(user, action: str, lookup: dict) -> RegisteredModel | None:
    """The model (with its team) under a row lock, through the restricted queryset."""
    queryset = restrict(RegisteredModel.objects.select_related("team"), user, action)
    try:
        return queryset.select_for_update(of=("self",)).get(**lookup)
    except RegisteredModel.DoesNotExist:
        return None


def _lock_model_for_change(user, model: RegisteredModel | None, action: str = "change", *, name: str | None = None) -> RegisteredModel:
    """Re-read the model (or find it by ``name``) under a row lock through the
    restricted queryset: another team's model is 404."""
    if model is not None:
        name, lookup = model.name, {"pk": model.pk}
    else:
        lookup = {"name": name}
    locked = _locked_model(user, action, lookup)
    if locked is None:
        if not has_action_perm(user, RegisteredModel, action):
            raise PermissionDeniedError(f"Your role does not allow {action} on registered models.")
        if restrict(RegisteredModel.objects.filter(**lookup), user, "view").exists():
            # Shared read-only with the user's team: they know it exists, so say why.
            raise PermissionDeniedError(f"Model {name!r} is shared with you read-only.")
        raise NotFoundError(f"No model named {name!r}.")
    return locked


def _model_audit(model: RegisteredModel) -> dict:
    return {"model_name": model.name, "registered_model_id": model.pk, "team_slug": model.team.slug}


# --- registered models ------------------------------------------------------


def registered_model_create(*, user, name: str, team: Team, description: str = "", tags: dict | None = None) -> RegisteredModel:
    try:
        return _registered_model_create(user=user, name=name, team=team, description=description, tags=tags)
    except IntegrityError as exc:
        # The name is unique. The transaction is rolled back as a whole (no savepoint
        # around the INSERT when there is no outer transaction: two round trips on every
        # create); say why if that was it.
        if _is_duplicate_name(exc, name):
            # Same answer whether or not the caller can see the other model: names are global.
            raise ConflictError(
                f"A model named {name!r} already exists.", code="already_exists", fields={"name": ["already exists"]}
            ) from None
        raise


def _is_duplicate_name(exc: IntegrityError, name: str) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:  # PostgreSQL names the constraint
        return diag.constraint_name == _NAME_CONSTRAINT
    return RegisteredModel.objects.filter(name=name).exists()


_NAME_CONSTRAINT = f"{RegisteredModel._meta.db_table}_name_key"  # PostgreSQL's name for a unique column


def _team_model_permission_ids() -> list[int]:
    return [permission_id(RegisteredModel, codename) for codename in TEAM_MODEL_PERMS]


@transaction.atomic
def _registered_model_create(*, user, name: str, team: Team, description: str, tags: dict | None) -> RegisteredModel:
    _require_action(user, RegisteredModel, "add")
    _require_team_member(user, team)
    tags = tags or {}
    schemas.validate_tags(tags)
    now = timezone.now()
    model = RegisteredModel(
        name=name, team=team, description=description, tags=tags, created_by=user, updated_by=user,
        created_at=now, updated_at=now,
    )
    # The team and the user are rows we just read: no need for full_clean's existence queries.
    _full_clean(model, exclude=["team", "created_by", "updated_by"], validate_unique=False)
    model.save(force_insert=True)
    # The owning team's object permissions in one INSERT (guardian's assign_perm is several queries each).
    RegisteredModelGroupObjectPermission.objects.bulk_create(
        RegisteredModelGroupObjectPermission(permission_id=perm, group_id=team.group_id, content_object=model)
        for perm in _team_model_permission_ids()
    )
    audit.record(
        action="registry.model.create", obj=model, **_model_audit(model),
        changes=audit.diff({}, {"name": name, "team": team.slug, "description": description, "tags": tags}),
    )
    return model


@transaction.atomic
def registered_model_update(*, user, model: RegisteredModel, description: str | None = None, tags: dict | None = None) -> RegisteredModel:
    model = _lock_model_for_change(user, model)
    before = {"description": model.description, "tags": model.tags}
    if description is not None:
        model.description = description
    if tags is not None:
        schemas.validate_tags(tags)
        model.tags = tags
    changes = audit.diff(before, {"description": model.description, "tags": model.tags})
    if not changes:
        return model
    model.updated_by = user
    model.updated_at = timezone.now()
    _full_clean(model, validate_unique=False)
    model.save(update_fields=["description", "tags", "updated_by", "updated_at"])
    audit.record(action="registry.model.update", obj=model, changes=changes, **_model_audit(model))
    return model


@transaction.atomic
def registered_model_rename(*, user, model: RegisteredModel, new_name: str) -> RegisteredModel:
    model = _lock_model_for_change(user, model)
    old_name = model.name
    if new_name == old_name:
        return model
    model.name = new_name
    _full_clean(model, validate_unique=False)
    if RegisteredModel.objects.filter(name=new_name).exists():
        raise ConflictError(f"A model named {new_name!r} already exists.", code="already_exists", fields={"name": ["already exists"]})
    model.updated_by = user
    model.updated_at = timezone.now()
    model.save(update_fields=["name", "updated_by", "updated_at"])
    audit.record(
        action="registry.model.rename", obj=model, changes=audit.diff({"name": old_name}, {"name": new_name}),
        **_model_audit(model),
    )
    return model


@transaction.atomic
def registered_model_delete(*, user, model: RegisteredModel) -> None:
    model = _lock_model_for_change(user, model, "delete")
    info = _model_audit(model)
    pk, name, versions = model.pk, model.name, model.last_version
    try:
        with transaction.atomic():
            # Edges whose child is one of these versions go with them (PROTECT guards only
            # parents); what still protects is a version of another model derived from these.
            VersionParent.objects.filter(child__registered_model=model).delete()
            model.delete()
    except ProtectedError:
        raise ConflictError(
            f"Model {name!r} cannot be deleted: other records (lineage children, promotions, deployments) refer to its versions."
        ) from None
    audit.record(
        action="registry.model.delete", object_type="registry.registeredmodel", object_id=str(pk), object_repr=name,
        changes={"versions": {"before": versions, "after": None}}, **info,
    )


def _share_target(team: Team | None, grantee) -> tuple[Any, str]:
    if (team is None) == (grantee is None):
        raise ApplicationError("Share with exactly one team or one user.", fields={"team": ["give a team or a user"]})
    return (team.group, f"team:{team.slug}") if team is not None else (grantee, f"user:{grantee.get_username()}")


@transaction.atomic
def registered_model_share(*, user, model: RegisteredModel, team: Team | None = None, grantee=None) -> RegisteredModel:
    """Let another team (or one user) view the model, its versions and artifacts. Read-only."""
    model = _lock_model_for_change(user, model)
    target, label = _share_target(team, grantee)
    if team is not None and team.pk == model.team_id:
        raise ApplicationError("The owning team already sees its model.", fields={"team": ["is the owner"]})
    assign_perm("registry.view_registeredmodel", target, model)
    audit.record(action="registry.model.share", obj=model, changes={"shared_with": {"before": None, "after": label}}, **_model_audit(model))
    return model


@transaction.atomic
def registered_model_unshare(*, user, model: RegisteredModel, team: Team | None = None, grantee=None) -> RegisteredModel:
    model = _lock_model_for_change(user, model)
    target, label = _share_target(team, grantee)
    if team is not None and team.pk == model.team_id:
        raise ApplicationError("The owning team's access cannot be removed.", fields={"team": ["is the owner"]})
    remove_perm("registry.view_registeredmodel", target, model)
    audit.record(action="registry.model.unshare", obj=model, changes={"shared_with": {"before": label, "after": None}}, **_model_audit(model))
    return model


@transaction.atomic
def registered_model_tag_set(*, user, model: RegisteredModel, key: str, value: str) -> RegisteredModel:
    model = _lock_model_for_change(user, model)
    return registered_model_update(user=user, model=model, tags={**model.tags, key: value})


@transaction.atomic
def registered_model_tag_delete(*, user, model: RegisteredModel, key: str) -> RegisteredModel:
    model = _lock_model_for_change(user, model)
    if key not in model.tags:
        raise NotFoundError(f"Model {model.name!r} has no tag {key!r}.")
    return registered_model_update(user=user, model=model, tags={k: v for k, v in model.tags.items() if k != key})


# --- model versions ---------------------------------------------------------


def _validate_registration(fields: dict) -> None:
    unknown = set(fields) - set(REGISTRATION_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise ApplicationError(f"{name}: unknown field.", fields={name: ["unknown field"]})
    schema_format = fields.get("schema_format", SchemaFormat.JSON_SCHEMA)
    for name in ("input_schema", "output_schema"):
        schemas.validate_schema(schema_format, fields.get(name), field=name)
    sample = fields.get("signature_sample")
    if sample is not None:
        if fields.get("input_schema") is None:
            raise ApplicationError("signature_sample: needs an input_schema to validate against.", fields={"signature_sample": ["needs an input_schema"]})
        errors = schemas.row_errors(schema_format, fields["input_schema"], sample)
        if errors:
            raise ApplicationError(f"signature_sample: {errors[0]}", fields={"signature_sample": errors})
    schemas.validate_metrics(fields.get("metrics", {}))
    schemas.validate_params(fields.get("params", {}))
    schemas.validate_tags(fields.get("tags", {}))
    schemas.validate_environment(fields.get("environment", {}))
    schemas.validate_serving(fields.get("serving", {}))


def _check_lineage_visible(user, *, trained_on: list, parents: list, training_run) -> None:
    """Lineage may only cite what the registering user can see (no probing other teams' ids)."""
    if trained_on:
        ids = {dv.pk for dv in trained_on}
        visible = set(restrict(DatasetVersion.objects.filter(pk__in=ids), user, "view").values_list("pk", flat=True))
        if ids - visible:
            raise ApplicationError("trained_on: unknown dataset version.", fields={"trained_on": ["unknown dataset version"]})
    if parents:
        ids = {parent.pk for parent, _ in parents}
        visible = set(restrict(ModelVersion.objects.filter(pk__in=ids), user, "view").values_list("pk", flat=True))
        if ids - visible:
            raise ApplicationError("parents: unknown model version.", fields={"parents": ["unknown model version"]})
    if training_run is not None and not restrict(TrainingRun.objects.filter(pk=training_run.pk), user, "view").exists():
        raise ApplicationError("training_run: unknown training run.", fields={"training_run": ["unknown training run"]})


def source_uri_check(*, user, uri: str) -> None:
    """A version's source: its form (``registry.sources``) and, for a reference to this
    registry, that the user sees what it names. A hidden blob, model or version is refused
    exactly like a missing one. A blank source (a REST registration without one) passes."""
    if not uri:
        return
    sources.validate_source_uri(uri)
    ref = sources.reference(uri)
    if ref is not None and not selectors.source_reference_visible(user=user, ref=ref):
        raise sources.not_visible(ref)


def _normalise_parents(parents: Iterable | None) -> list[tuple[ModelVersion, str]]:
    out = []
    for item in parents or []:
        parent, relation = (item, ParentRelation.DERIVED) if isinstance(item, ModelVersion) else item
        if relation not in ParentRelation.values:
            raise ApplicationError(f"parents: unknown relation {relation!r}.", fields={"parents": [f"unknown relation {relation!r}"]})
        out.append((parent, relation))
    return out


@transaction.atomic
def modelversion_register(
    *, user, registered_model: RegisteredModel | None = None, model_name: str | None = None,
    idempotency_key: str | None = None, ready: bool = False, **fields,
) -> tuple[ModelVersion, bool]:
    """Register the next version of a model (given as an object, or by ``model_name``:
    then it is found by the locking read itself). Returns ``(version, created)``.

    ``ready=True`` is for a version whose files will not be uploaded here (an
    MLflow ``source`` in an external store): it is READY at once, in this
    transaction, instead of ``pending_upload`` until finalized.

    The number comes from ``RegisteredModel.last_version`` read under a row lock
    (``select_for_update``): concurrent registrations queue on that lock, so
    numbers are gap-free and never duplicated. A repeated ``idempotency_key``
    returns the version it created the first time (``created`` is False).
    """
    if (registered_model is None) == (model_name is None):
        raise TypeError("modelversion_register needs registered_model or model_name (one of them).")
    _require_action(user, ModelVersion, "add")
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 128):
        raise ApplicationError("Idempotency-Key must be 1–128 characters.", fields={"idempotency_key": ["1–128 characters"]})
    trained_on = list(fields.pop("trained_on", None) or [])
    parents = _normalise_parents(fields.pop("parents", None))
    _validate_registration({**fields, "trained_on": trained_on, "parents": parents})
    _check_lineage_visible(user, trained_on=trained_on, parents=parents, training_run=fields.get("training_run"))
    source_uri_check(user=user, uri=fields.get("source_uri", ""))
    # Lock first, then look the key up: a concurrent retry with the same key waits here and then finds it.
    model = _lock_model_for_change(user, registered_model, name=model_name)
    if idempotency_key is not None:
        existing = ModelVersion.objects.filter(registered_model=model, idempotency_key=idempotency_key).first()
        if existing is not None:
            _check_same_registration(existing, fields, trained_on, parents)
            return existing, False
    now = timezone.now()
    version = ModelVersion(
        registered_model=model, version=model.last_version + 1,
        status=VersionStatus.READY if ready else VersionStatus.PENDING_UPLOAD,
        idempotency_key=idempotency_key, created_by=user, created_at=now, updated_at=now, **fields,
    )
    _full_clean(version, exclude=["registered_model", "created_by"], validate_unique=False)
    model.last_version = version.version
    model.updated_at = now
    version.save(force_insert=True)
    model.save(update_fields=["last_version", "updated_at"])
    if trained_on:
        version.trained_on.set(trained_on)
    for parent, relation in parents:
        if parent.pk == version.pk:
            raise ApplicationError("parents: a version cannot derive from itself.", fields={"parents": ["self reference"]})
        VersionParent.objects.create(child=version, parent=parent, relation=relation)
    audit.record(
        action="registry.version.register", obj=version, **_model_audit(model),
        changes=audit.diff({}, {
            "version": version.version, "framework": version.framework, "metrics": version.metrics,
            "source_commit": version.source_commit, "trained_on": [str(dv) for dv in trained_on],
            "parents": [f"{p} ({rel})" for p, rel in parents], "idempotency_key": idempotency_key,
            "status": version.status,
        }),
    )
    # Higher apps' hooks (governance: the version.registered webhook), in this transaction.
    extensions.version_registered(version)
    training_run_resolve_later(user=user, version=version)
    return version, True


def _check_same_registration(existing: ModelVersion, fields: dict, trained_on: list, parents: list) -> None:
    """A retry must carry the same frozen content; a reused key with other content is a client bug (409)."""
    differing = [name for name, value in fields.items() if name in ModelVersion.IMMUTABLE_FIELDS and getattr(existing, name) != value]
    if {dv.pk for dv in trained_on} != set(existing.trained_on.values_list("pk", flat=True)):
        differing.append("trained_on")
    if {(p.pk, rel) for p, rel in parents} != set(existing.parent_links.values_list("parent_id", "relation")):
        differing.append("parents")
    if differing:
        raise ConflictError(
            f"Idempotency-Key was already used for version {existing.version} with different {', '.join(sorted(differing))}; "
            "use a new key for a new version.",
            code="idempotency_conflict",
            fields={name: ["differs from the first request with this key"] for name in differing},
        )


def _lock_version_for_change(user, version: ModelVersion) -> ModelVersion:
    locked = (
        restrict(ModelVersion.objects.select_related("registered_model__team"), user, "change")
        .select_for_update(of=("self",))
        .filter(pk=version.pk)
        .first()
    )
    if locked is None:
        if not has_action_perm(user, ModelVersion, "change"):
            raise PermissionDeniedError("Your role does not allow changing model versions.")
        if restrict(ModelVersion.objects.filter(pk=version.pk), user, "view").exists():
            raise PermissionDeniedError("This model is shared with you read-only.")
        raise NotFoundError("No such model version.")
    return locked


@transaction.atomic
def modelversion_update(
    *, user, version: ModelVersion, description: str | None = None, tags: dict | None = None, **frozen
) -> ModelVersion:
    """Only description and tags change after registration; anything else is 409."""
    if frozen:
        names = sorted(frozen)
        bad = [n for n in names if n not in FROZEN_AFTER_REGISTRATION]
        if bad:
            raise ApplicationError(f"{bad[0]}: unknown field.", fields={n: ["unknown field"] for n in bad})
        raise ConflictError(
            f"{', '.join(names)} cannot change after registration: a version is immutable except its "
            "description and tags. Register a new version instead.",
            code="immutable",
            fields={n: ["immutable after registration"] for n in names},
        )
    version = _lock_version_for_change(user, version)
    before = {"description": version.description, "tags": version.tags}
    if description is not None:
        version.description = description
    if tags is not None:
        schemas.validate_tags(tags)
        version.tags = tags
    changes = audit.diff(before, {"description": version.description, "tags": version.tags})
    if not changes:
        return version
    version.updated_at = timezone.now()
    version.save(update_fields=["description", "tags", "updated_at"])
    audit.record(action="registry.version.update", obj=version, changes=changes, **_model_audit(version.registered_model))
    return version


@transaction.atomic
def modelversion_tag_set(*, user, version: ModelVersion, key: str, value: str) -> ModelVersion:
    version = _lock_version_for_change(user, version)
    return modelversion_update(user=user, version=version, tags={**version.tags, key: value})


@transaction.atomic
def modelversion_tag_delete(*, user, version: ModelVersion, key: str) -> ModelVersion:
    version = _lock_version_for_change(user, version)
    if key not in version.tags:
        raise NotFoundError(f"Version {version} has no tag {key!r}.")
    return modelversion_update(user=user, version=version, tags={k: v for k, v in version.tags.items() if k != key})


@transaction.atomic
def modelversion_finalize(*, user, version: ModelVersion, status: str = VersionStatus.READY, message: str = "") -> ModelVersion:
    """``pending_upload`` → ``ready`` (artifacts frozen from now on) or → ``failed`` with a message."""
    version = _lock_version_for_change(user, version)
    if status not in (VersionStatus.READY, VersionStatus.FAILED):
        raise ApplicationError("status must be 'ready' or 'failed'.", fields={"status": ["must be ready or failed"]})
    if version.status != VersionStatus.PENDING_UPLOAD:
        raise ConflictError(
            f"Version {version.version} is already {version.status}; only a pending_upload version can be finalized.",
            code="illegal_transition",
        )
    before = version.status
    version.status = status
    version.status_message = message
    version.updated_at = timezone.now()
    version.save(update_fields=["status", "status_message", "updated_at"])
    audit.record(
        action=f"registry.version.{'ready' if status == VersionStatus.READY else 'failed'}", obj=version,
        changes=audit.diff({"status": before}, {"status": status, "status_message": message or None}),
        **_model_audit(version.registered_model),
    )
    return version


# --- artifacts --------------------------------------------------------------


def artifact_upload(
    *, user, version: ModelVersion, path: str, chunks: Iterable[bytes], kind: str = ArtifactKind.OTHER,
    expected_sha256: str | None = None, content_type: str = "", max_bytes: int | None = None,
) -> Artifact:
    """Stream one file into the content-addressed store and attach it to a pending version.

    Checked before a byte is read: the path (sanitised), the version (pending,
    writable by the user) and the path's freshness. The bytes are streamed
    outside any transaction (uploads are long); the row is then written under
    the version's lock, which re-checks that it is still pending.
    """
    clean_path = storage.sanitize_artifact_path(path)
    if kind not in ArtifactKind.values:
        raise ApplicationError(f"kind: unknown artifact kind {kind!r}.", fields={"kind": [f"one of {', '.join(ArtifactKind.values)}"]})
    _require_action(user, Artifact, "add")
    with transaction.atomic():
        current = _lock_version_for_change(user, version)
        _check_artifact_writable(current, clean_path)
    blob = storage.store_stream(chunks, expected_sha256=expected_sha256, max_bytes=max_bytes)
    with transaction.atomic():
        current = _lock_version_for_change(user, version)
        _check_artifact_writable(current, clean_path)
        artifact = Artifact(
            version=current, path=clean_path, kind=kind, blob=blob, content_type=content_type[:100], created_by=user,
        )
        _full_clean(artifact, exclude=["version", "blob"], validate_unique=False)
        artifact.save(force_insert=True)
        audit.record(
            action="registry.artifact.upload", obj=artifact, **_model_audit(current.registered_model),
            changes=audit.diff({}, {"path": clean_path, "sha256": blob.sha256, "size": blob.size, "kind": kind}),
        )
    return artifact


def _check_artifact_writable(version: ModelVersion, path: str) -> None:
    if version.status != VersionStatus.PENDING_UPLOAD:
        raise ConflictError(
            f"Version {version.version} is {version.status}: its artifacts are immutable. Register a new version instead.",
            code="immutable",
        )
    if Artifact.objects.filter(version=version, path=path).exists():
        raise ConflictError(f"Version {version.version} already has an artifact at {path!r}; artifacts are never overwritten.", code="already_exists")


# --- aliases ----------------------------------------------------------------


@transaction.atomic
def alias_set(*, user, registered_model: RegisteredModel, alias: str, version: ModelVersion) -> ModelAlias:
    _require_action(user, ModelAlias, "change")
    model = _lock_model_for_change(user, registered_model)
    if version.registered_model_id != model.pk:
        raise ApplicationError("version: belongs to another model.", fields={"version": ["belongs to another model"]})
    # After the model lock: a governance change that makes the version ineligible either
    # committed before (seen here) or re-checks the aliases after this commits.
    aliases.check_target(alias=alias, version=version)
    existing = ModelAlias.objects.filter(registered_model=model, alias=alias).select_related("version").first()
    before = existing.version.version if existing is not None else None
    obj = existing or ModelAlias(alias=alias)
    obj.registered_model = model  # the row we locked: str() and the audit need it
    obj.version = version
    obj.updated_at = timezone.now()
    _full_clean(obj, exclude=["registered_model", "version"], validate_unique=False)
    if existing is None:
        obj.save(force_insert=True)
    else:
        obj.save(update_fields=["version", "updated_at"])
    audit.record(
        action="registry.alias.set", obj=obj, changes=audit.diff({"version": before}, {"version": version.version}),
        **_model_audit(model),
    )
    return obj


@transaction.atomic
def alias_delete(*, user, registered_model: RegisteredModel, alias: str) -> None:
    _require_action(user, ModelAlias, "delete")
    model = _lock_model_for_change(user, registered_model)
    obj = ModelAlias.objects.filter(registered_model=model, alias=alias).select_related("version").first()
    if obj is None:
        raise NotFoundError(f"Model {model.name!r} has no alias {alias!r}.")
    before = obj.version.version
    pk = obj.pk
    obj.delete()
    audit.record(
        action="registry.alias.delete", object_type="registry.modelalias", object_id=str(pk), object_repr=f"{model.name}@{alias}",
        changes={"version": {"before": before, "after": None}}, **_model_audit(model),
    )


@transaction.atomic
def aliases_enforce_rules(*, registered_model: RegisteredModel, reason: str, user=None) -> None:
    """Move or remove the model's aliases that their rules (``registry.aliases``) no longer
    allow: each moves to the version its rule names as replacement, or is removed.

    Called by the services that change what a rule reads (governance: deployments,
    rollbacks, retirements, expired or cancelled approvals), in their transaction. It
    checks no permission of ``user`` (the actor recorded, None for a periodic task):
    it only restores an invariant. The model row is locked first, so an ``alias_set``
    running concurrently either committed before (and is corrected here) or sees the
    caller's change once it commits.
    """
    model = RegisteredModel.objects.select_for_update(of=("self",)).select_related("team").get(pk=registered_model.pk)
    for obj in ModelAlias.objects.filter(registered_model=model).select_related("version").order_by("alias"):
        broken = [rule for rule in aliases.rules_for(obj.alias) if not aliases.is_eligible(rule, obj.alias, obj.version)]
        if not broken:
            continue
        obj.registered_model = model
        target = broken[0].replacement(obj.alias, model.pk)
        if target is not None and not aliases.target_allowed(alias=obj.alias, version=target):
            target = None
        before = obj.version.version
        why = {"before": None, "after": f"{reason}: the {broken[0].code} rule no longer allows version {before}"}
        if target is None:
            pk = obj.pk
            obj.delete()
            audit.record(
                action="registry.alias.delete", object_type="registry.modelalias", object_id=str(pk),
                object_repr=str(obj), changes={"version": {"before": before, "after": None}, "reason": why},
                actor=user, **_model_audit(model),
            )
            continue
        obj.version, obj.updated_at = target, timezone.now()
        obj.save(update_fields=["version", "updated_at"])
        audit.record(
            action="registry.alias.set", obj=obj, changes={"version": {"before": before, "after": target.version}, "reason": why},
            actor=user, **_model_audit(model),
        )


# --- lineage records --------------------------------------------------------


@transaction.atomic
def dataset_create(*, user, name: str, team: Team, description: str = "") -> Dataset:
    _require_action(user, Dataset, "add")
    _require_team_member(user, team)
    dataset = Dataset(name=name, team=team, description=description)
    _full_clean(dataset, validate_unique=False)
    if Dataset.objects.filter(team=team, name=name).exists():
        raise ConflictError(f"Team {team.slug!r} already has a dataset named {name!r}.", code="already_exists", fields={"name": ["already exists"]})
    dataset.save(force_insert=True)
    for perm in TEAM_DATASET_PERMS:
        assign_perm(f"registry.{perm}", team.group, dataset)
    audit.record(action="registry.dataset.create", obj=dataset, team_slug=team.slug, changes=audit.diff({}, {"name": name}))
    return dataset


@transaction.atomic
def datasetversion_create(
    *, user, dataset: Dataset, version: str, uri: str = "", sha256: str = "", row_count: int | None = None, schema: dict | None = None,
) -> DatasetVersion:
    _require_action(user, DatasetVersion, "add")
    if not restrict(Dataset.objects.filter(pk=dataset.pk), user, "change").exists():
        raise NotFoundError("No such dataset.")
    obj = DatasetVersion(dataset=dataset, version=version, uri=uri, sha256=sha256.lower(), row_count=row_count, schema=schema)
    _full_clean(obj, exclude=["dataset"], validate_unique=False)
    if DatasetVersion.objects.filter(dataset=dataset, version=version).exists():
        raise ConflictError(f"Dataset {dataset.name!r} already has a version {version!r}.", code="already_exists", fields={"version": ["already exists"]})
    obj.save(force_insert=True)
    audit.record(
        action="registry.datasetversion.create", obj=obj, team_slug=dataset.team.slug,
        changes=audit.diff({}, {"version": version, "uri": uri, "sha256": sha256, "row_count": row_count}),
    )
    return obj


@transaction.atomic
def trainingrun_create(
    *, user, team: Team, external_id: str, code_repository: str = "", commit: str = "", params: dict | None = None,
    metrics: dict | None = None, environment: dict | None = None, started_at=None, ended_at=None,
) -> TrainingRun:
    _require_action(user, TrainingRun, "add")
    _require_team_member(user, team)
    params, metrics, environment = params or {}, metrics or {}, environment or {}
    schemas.validate_params(params)
    schemas.validate_metrics(metrics)
    schemas.validate_environment(environment)
    if started_at and ended_at and ended_at < started_at:
        raise ApplicationError("ended_at: before started_at.", fields={"ended_at": ["before started_at"]})
    run = TrainingRun(
        team=team, external_id=external_id, code_repository=code_repository, commit=commit.lower(), params=params,
        metrics=metrics, environment=environment, started_at=started_at, ended_at=ended_at,
    )
    _full_clean(run, validate_unique=False)
    if TrainingRun.objects.filter(team=team, external_id=external_id).exists():
        raise ConflictError(f"Team {team.slug!r} already has a run {external_id!r}.", code="already_exists", fields={"external_id": ["already exists"]})
    run.save(force_insert=True)
    audit.record(action="registry.trainingrun.create", obj=run, team_slug=team.slug, changes=audit.diff({}, {"external_id": external_id, "commit": commit}))
    return run


# --- training runs from the team's MLflow tracking server -------------------

RESOLVE_RUN_JOB = tracking.RESOLVE_RUN_JOB


def training_run_resolve_later(*, user, version: ModelVersion) -> Job | None:
    """Enqueue, in the caller's transaction, the job that finds the run behind an MLflow 3
    logged model (``registry.tracking``) — when there is one to find and a tracking
    server to ask. Without a server the version page says the run is unknown and how to
    configure one."""
    if not version.logged_model_id or version.run_id or not tracking.configured():
        return None
    return jobs.enqueue(kind=RESOLVE_RUN_JOB, params={"version_id": version.pk}, user=user, obj=version)


@transaction.atomic
def training_run_resolve_again(*, user, version: ModelVersion) -> Job:
    """Ask the tracking server once more (it gave up, refused the service account, or was
    configured after the version was registered). Needs the right to change the version."""
    version = _lock_version_for_change(user, version)
    if version.training_run_id or version.run_id:
        raise ConflictError(f"Version {version} already has its training run.", code="illegal_transition")
    if not version.logged_model_id:
        raise ApplicationError(f"Version {version} has no MLflow logged-model id to find a run for.")
    if not tracking.configured():
        raise ConflictError(f"No MLflow tracking server is configured. {tracking.CONFIGURE_HINT}", code="not_configured")
    pending = Job.objects.filter(
        kind=RESOLVE_RUN_JOB, object_type="registry.modelversion", object_id=str(version.pk),
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
    )
    if pending.exists():
        raise ConflictError("The tracking server is already being asked for this version's run.", code="already_running")
    job = jobs.enqueue(kind=RESOLVE_RUN_JOB, params={"version_id": version.pk}, user=user, obj=version)
    audit.record(
        action="registry.version.training_run_requested", obj=version, **_model_audit(version.registered_model),
        changes={"job": {"before": None, "after": str(job.pk)}},
    )
    return job


def modelversion_resolve_training_run(*, version_id: int) -> dict:
    """The job's work: ask the tracking server (outside any transaction: network) which run
    logged the version's model, then record it. Raises ``tracking.TrackingServerError``
    (saying whether a retry can help); the version stays usable whatever happens."""
    version = ModelVersion.objects.filter(pk=version_id).only("pk", "logged_model_id", "run_id", "training_run_id").first()
    if version is None:
        return {"skipped": "the version no longer exists"}
    if version.training_run_id:
        return {"skipped": "the version already has its training run"}
    if not version.logged_model_id:
        return {"skipped": "the version has no MLflow logged-model id"}
    if not tracking.configured():
        raise tracking.TrackingServerError(f"No MLflow tracking server is configured. {tracking.CONFIGURE_HINT}", transient=False)
    facts = tracking.resolve_logged_model(version.logged_model_id)
    run = modelversion_attach_training_run(version_id=version_id, facts=facts)
    return {"run_id": facts.run_id, "training_run_id": run.pk, "url": facts.url}


def _tracked_run(team: Team, facts: tracking.RunFacts) -> tuple[TrainingRun, bool]:
    """The team's record of the run, created from the tracking server's facts if new."""
    existing = TrainingRun.objects.filter(team=team, external_id=facts.run_id).first()
    if existing is not None:
        return existing, False
    commit = facts.commit.lower()
    run = TrainingRun(
        team=team, external_id=facts.run_id, name=facts.name, url=facts.url, params=facts.params, metrics=facts.metrics,
        datasets=facts.datasets, started_at=facts.started_at, ended_at=facts.ended_at,
        # Git facts only when they fit the fields (a repository given as git@host:… is not a URL).
        commit=commit if COMMIT_VALIDATOR.regex.match(commit) else "",
        code_repository=facts.code_repository if facts.code_repository.startswith(("https://", "http://")) else "",
    )
    _full_clean(run, exclude=["team"], validate_unique=False)
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:  # another version of the same run got there first
        return TrainingRun.objects.get(team=team, external_id=facts.run_id), False
    return run, True


@transaction.atomic
def modelversion_attach_training_run(*, version_id: int, facts: tracking.RunFacts) -> TrainingRun:
    """Fill a version's ``run_id`` and ``training_run`` from the tracking server.

    They are frozen after registration like the rest of the lineage; this is the one
    write that sets them later, and only while empty: the client registered a logged
    model whose run only the tracking server knows. A run id the client gave is never
    replaced.
    """
    version = ModelVersion.objects.select_for_update(of=("self",)).select_related("registered_model__team").get(pk=version_id)
    if version.training_run_id:
        return version.training_run
    if version.run_id and version.run_id != facts.run_id:
        raise ConflictError(
            f"Version {version} was registered with run {version.run_id!r}, but the tracking server says logged model "
            f"{version.logged_model_id} comes from run {facts.run_id!r}; the registered run id is kept.",
            code="run_mismatch",
        )
    team = version.registered_model.team
    run, created = _tracked_run(team, facts)
    if created:
        audit.record(
            action="registry.trainingrun.create", obj=run, team_slug=team.slug,
            changes=audit.diff({}, {"external_id": run.external_id, "url": run.url, "source": "mlflow tracking server"}),
        )
    before = {"run_id": version.run_id or None, "training_run": None}
    version.run_id, version.training_run, version.updated_at = facts.run_id, run, timezone.now()
    version.save(update_fields=["run_id", "training_run", "updated_at"])
    audit.record(
        action="registry.version.training_run_resolved", obj=version, **_model_audit(version.registered_model),
        changes=audit.diff(before, {"run_id": facts.run_id, "training_run": run.external_id}),
    )
    return run
