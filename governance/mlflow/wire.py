"""MLflow's wire format: snake_case JSON, unset fields omitted, ``version`` as a
string, epoch-millisecond timestamps, and errors as ``{"error_code", "message"}``
with MLflow's HTTP status for each code (``mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS``).
"""

from __future__ import annotations

import json

from django.http import HttpResponse

from modelgate.core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from registry.aliases import AliasRuleError
from registry.choices import VersionStatus

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
FEATURE_DISABLED = "FEATURE_DISABLED"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"

# MLflow's mapping. Note RESOURCE_ALREADY_EXISTS is 400 (mlflow.register_model relies on
# the code), and we never answer INVALID_STATE (500): clients retry 5xx for minutes.
HTTP_STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
    RESOURCE_CONFLICT: 409,
    FEATURE_DISABLED: 501,
    REQUEST_LIMIT_EXCEEDED: 429,  # e.g. a login locked after repeated failures
}

STATUS = {
    VersionStatus.PENDING_UPLOAD: "PENDING_REGISTRATION",
    VersionStatus.READY: "READY",
    VersionStatus.FAILED: "FAILED_REGISTRATION",
}
STAGE_NONE = "None"


class MlflowError(Exception):
    def __init__(self, error_code: str, message: str):
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.error_code, 400)


def invalid(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def from_application_error(exc: ApplicationError) -> MlflowError:
    """Our domain errors, in MLflow's words."""
    if isinstance(exc, NotFoundError):
        return MlflowError(RESOURCE_DOES_NOT_EXIST, exc.message)
    if isinstance(exc, PermissionDeniedError):
        return MlflowError(PERMISSION_DENIED, exc.message)
    if exc.code == "already_exists":
        return MlflowError(RESOURCE_ALREADY_EXISTS, exc.message)
    if isinstance(exc, AliasRuleError):  # MLflow has no conflict for an alias: a refused parameter, as before
        return MlflowError(INVALID_PARAMETER_VALUE, exc.message)
    if isinstance(exc, ConflictError):
        return MlflowError(RESOURCE_CONFLICT, exc.message)
    return MlflowError(INVALID_PARAMETER_VALUE, exc.message)


def json_response(payload: dict, status: int = 200) -> HttpResponse:
    # Plain HttpResponse + json.dumps: no content negotiation or renderer per request.
    return HttpResponse(json.dumps(payload, separators=(",", ":")), status=status, content_type="application/json")


def error_response(exc: MlflowError) -> HttpResponse:
    return json_response({"error_code": exc.error_code, "message": exc.message}, status=exc.status)


def millis(value) -> int:
    return int(value.timestamp() * 1000)


def _tags(tags: dict) -> list[dict]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def model_version(version, *, model_name: str, aliases: list[str] = (), stage: str = STAGE_NONE) -> dict:
    """A ``ModelVersion`` message. ``version`` is a string on the wire."""
    out = {
        "name": model_name,
        "version": str(version.version),
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(version.updated_at),
        "current_stage": stage,
        "status": STATUS.get(version.status, "READY"),
    }
    username = getattr(version, "creator_username", None)
    if username:
        out["user_id"] = username
    if version.description:
        out["description"] = version.description
    if version.source_uri:
        out["source"] = version.source_uri
    if version.run_id:
        out["run_id"] = version.run_id
    if version.logged_model_id:
        out["model_id"] = version.logged_model_id
    if version.status_message:
        out["status_message"] = version.status_message
    if version.tags:
        out["tags"] = _tags(version.tags)
    if aliases:
        out["aliases"] = list(aliases)
    return out


def registered_model(model, *, latest_versions: list[dict] = (), aliases: list[tuple[str, int]] = ()) -> dict:
    out = {
        "name": model.name,
        "creation_timestamp": millis(model.created_at),
        "last_updated_timestamp": millis(model.updated_at),
    }
    username = getattr(model, "creator_username", None)
    if username:
        out["user_id"] = username
    if model.description:
        out["description"] = model.description
    if latest_versions:
        out["latest_versions"] = list(latest_versions)
    if model.tags:
        out["tags"] = _tags(model.tags)
    if aliases:
        out["aliases"] = [{"alias": alias, "version": str(number)} for alias, number in aliases]
    return out
