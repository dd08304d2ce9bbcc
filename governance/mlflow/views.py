"""MLflow model-registry REST endpoints. Thin: parse MLflow's request, call a
selector or service, answer in MLflow's wire format.

Plain Django views (no DRF renderers, parsers or serializers): per-request
overhead is a large part of the latency at registry sizes, and the speed target
is 3× an MLflow server. Authentication is the API's own (bearer token, or HTTP
Basic with a password or a token as the password); session cookies are never
looked at, which is why these token-authenticated views are exempt from CSRF.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions

from governance.mlflow import filters, governance, selectors, services, wire
from governance.mlflow.wire import ENDPOINT_NOT_FOUND, REQUEST_LIMIT_EXCEEDED, UNAUTHENTICATED, MlflowError, invalid
from modelgate.api.authentication import BasicPasswordAuthentication, BearerTokenAuthentication
from modelgate.core.errors import ApplicationError
from registry import services as registry_services

_AUTHENTICATORS = {b"bearer": BearerTokenAuthentication(), b"basic": BasicPasswordAuthentication()}
# Repeated query parameters MLflow sends as lists on GET.
_LIST_PARAMS = ("stages", "order_by")


def _authenticate(request):
    header = request.META.get("HTTP_AUTHORIZATION", "").encode("latin-1", "replace")
    scheme = header.split(b" ", 1)[0].lower()
    authenticator = _AUTHENTICATORS.get(scheme)
    if authenticator is None:
        raise MlflowError(UNAUTHENTICATED, "Authentication required: send a bearer token (MLFLOW_TRACKING_TOKEN) "
                                           "or HTTP Basic credentials (MLFLOW_TRACKING_USERNAME/PASSWORD).")
    try:
        result = authenticator.authenticate(request)
    except drf_exceptions.Throttled as exc:
        raise MlflowError(REQUEST_LIMIT_EXCEEDED, str(exc.detail)) from None
    except drf_exceptions.APIException as exc:
        raise MlflowError(UNAUTHENTICATED, str(exc.detail)) from None
    if result is None:
        raise MlflowError(UNAUTHENTICATED, "Authentication required.")
    return result


def _params(request) -> dict:
    if request.method == "GET":
        out = {}
        for key in request.GET:
            out[key] = request.GET.getlist(key) if key in _LIST_PARAMS else request.GET.get(key)
        return out
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply (was a 500)
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    return data


def endpoint(**handlers):
    """One URL: method routing, authentication, parameter parsing and MLflow errors."""

    @csrf_exempt
    def view(request):
        handler = handlers.get(request.method)
        try:
            if handler is None:
                error = MlflowError(ENDPOINT_NOT_FOUND, f"{request.method} is not supported on {request.path}.")
                response = wire.error_response(error)
                response.status_code = 405
                response["Allow"] = ", ".join(handlers)
                return response
            user, token = _authenticate(request)
            # The audit writer reads the actor from the request, as it would after DRF authentication.
            request.user, request.auth = user, token
            payload = handler(user, _params(request))
        except MlflowError as exc:
            return wire.error_response(exc)
        except ApplicationError as exc:
            return wire.error_response(wire.from_application_error(exc))
        return wire.json_response(payload)

    return view


def _required(params: dict, key: str) -> str:
    value = params.get(key)
    if value is None or value == "":
        raise invalid(f"Missing value for required parameter '{key}'.")
    if not isinstance(value, str):
        raise invalid(f"Parameter '{key}' must be a string.")
    return value


def _optional(params: dict, key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"Parameter '{key}' must be a string.")
    return value


def _as_list(value) -> list:
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


# --- registered models -------------------------------------------------------------


def _model_response(model) -> dict:
    return {"registered_model": selectors.models_wire([model])[0]}


def _create_model(user, params):
    name = _required(params, "name")
    tags = services.tags_from_wire(params.get("tags"))
    model = services.registered_model_create(user=user, name=name, tags=tags, description=_optional(params, "description") or "")
    # A new model has no versions or aliases: answer from the object, no re-read.
    model.creator_username = user.get_username()
    return {"registered_model": wire.registered_model(model)}


def _get_model(user, params):
    return _model_response(selectors.model_get(user=user, name=_required(params, "name")))


def _rename_model(user, params):
    model = selectors.model_get(user=user, name=_required(params, "name"))
    registry_services.registered_model_rename(user=user, model=model, new_name=_required(params, "new_name"))
    return _model_response(selectors.model_get(user=user, name=params["new_name"]))


def _update_model(user, params):
    model = selectors.model_get(user=user, name=_required(params, "name"))
    description = _optional(params, "description")
    model = registry_services.registered_model_update(user=user, model=model, description=description)
    return _model_response(selectors.model_get(user=user, name=model.name))


def _delete_model(user, params):
    model = selectors.model_get(user=user, name=_required(params, "name"))
    registry_services.registered_model_delete(user=user, model=model)
    return {}


def _search_models(user, params):
    limit = filters.max_results(params.get("max_results"), default=100)
    offset = filters.decode_page_token(params.get("page_token"))
    page = selectors.models_page(  # one extra row says whether a next page exists
        user=user, conditions=filters.parse_filter(_optional(params, "filter"), filters.MODELS),
        ordering=filters.order_by(_as_list(params.get("order_by")), filters.MODELS), offset=offset, limit=limit + 1,
    )
    out = {"registered_models": selectors.models_wire(page[:limit])}
    if len(page) > limit:
        out["next_page_token"] = filters.encode_page_token(offset + limit)
    return out


def _latest_versions(user, params):
    model = selectors.model_get(user=user, name=_required(params, "name"))
    found = selectors.latest_versions(user=user, model=model, stages=_as_list(params.get("stages")))
    return {"model_versions": selectors.versions_wire(found)}


def _set_model_tag(user, params):
    model = selectors.model_get(user=user, name=_required(params, "name"))
    key = _required(params, "key")
    value = params.get("value", "")
    registry_services.registered_model_tag_set(user=user, model=model, key=key, value=value if isinstance(value, str) else str(value))
    return {}


def _delete_model_tag(user, params):
    model = selectors.model_get(user=user, name=_required(params, "name"))
    registry_services.registered_model_tag_delete(user=user, model=model, key=_required(params, "key"))
    return {}


def _set_alias(user, params):
    version = selectors.version_ref(user=user, name=_required(params, "name"), version=_required(params, "version"))
    # Reserved aliases (champion, prod…) are refused by the registry's service, as on every surface.
    registry_services.alias_set(user=user, registered_model=version.registered_model, alias=_required(params, "alias"), version=version)
    return {}


def _delete_alias(user, params):
    model = selectors.model_get(user=user, name=_required(params, "name"))
    registry_services.alias_delete(user=user, registered_model=model, alias=_required(params, "alias"))
    return {}


def _get_by_alias(user, params):
    version = selectors.version_by_alias(user=user, name=_required(params, "name"), alias=_required(params, "alias"))
    return {"model_version": selectors.version_wire(version)}


# --- model versions ----------------------------------------------------------------


def _version(user, params):
    return selectors.version_get(user=user, name=_required(params, "name"), version=_required(params, "version"))


def _create_version(user, params):
    # The model is found by the registration's own locking read (a missing or
    # invisible one is 404 from there), not read once more beforehand.
    name = _required(params, "name")
    version = services.model_version_create(
        user=user, model_name=name, source=_required(params, "source"), run_id=_optional(params, "run_id") or "",
        model_id=_optional(params, "model_id") or "", tags=services.tags_from_wire(params.get("tags")), description=_optional(params, "description") or "",
    )
    # A new version has no aliases and no deployment: answer from the object, no re-read.
    version.creator_username = user.get_username()
    return {"model_version": wire.model_version(version, model_name=name)}


def _get_version(user, params):
    version = selectors.version_for_wire(user=user, name=_required(params, "name"), version=_required(params, "version"))
    return {"model_version": selectors.version_wire(version)}


def _update_version(user, params):
    version = _version(user, params)
    registry_services.modelversion_update(user=user, version=version, description=_optional(params, "description"))
    return {"model_version": selectors.version_wire(_version(user, params))}


def _delete_version(user, params):
    services.model_version_delete(user=user, version=_version(user, params))
    return {}


def _search_versions(user, params):
    limit = filters.max_results(params.get("max_results"), default=filters.MAX_RESULTS_CAP)
    offset = filters.decode_page_token(params.get("page_token"))
    page = selectors.versions_page(
        user=user, conditions=filters.parse_filter(_optional(params, "filter"), filters.VERSIONS),
        ordering=filters.order_by(_as_list(params.get("order_by")), filters.VERSIONS), offset=offset, limit=limit + 1,
    )
    out = {"model_versions": selectors.versions_wire(page[:limit])}
    if len(page) > limit:
        out["next_page_token"] = filters.encode_page_token(offset + limit)
    return out


def _download_uri(user, params):
    return {"artifact_uri": _version(user, params).source_uri}


def _set_version_tag(user, params):
    version = _version(user, params)
    value = params.get("value", "")
    registry_services.modelversion_tag_set(
        user=user, version=version, key=_required(params, "key"), value=value if isinstance(value, str) else str(value)
    )
    return {}


def _delete_version_tag(user, params):
    registry_services.modelversion_tag_delete(user=user, version=_version(user, params), key=_required(params, "key"))
    return {}


def _transition_stage(user, params):
    version = _version(user, params)
    stage = governance.normalise_stage(_required(params, "stage"))
    # The version does not move: governance opens a promotion request for approvers to decide.
    with transaction.atomic():
        governance.request_promotion(user=user, version=version, stage=stage)
    return {"model_version": selectors.version_wire(_version(user, params))}


registered_model_create = endpoint(POST=_create_model)
registered_model_get = endpoint(GET=_get_model)
registered_model_rename = endpoint(POST=_rename_model)
registered_model_update = endpoint(PATCH=_update_model)
registered_model_delete = endpoint(DELETE=_delete_model)
registered_model_search = endpoint(GET=_search_models)
registered_model_latest_versions = endpoint(POST=_latest_versions, GET=_latest_versions)
registered_model_set_tag = endpoint(POST=_set_model_tag)
registered_model_delete_tag = endpoint(DELETE=_delete_model_tag)
registered_model_alias = endpoint(POST=_set_alias, DELETE=_delete_alias, GET=_get_by_alias)

model_version_create = endpoint(POST=_create_version)
model_version_get = endpoint(GET=_get_version)
model_version_update = endpoint(PATCH=_update_version)
model_version_delete = endpoint(DELETE=_delete_version)
model_version_search = endpoint(GET=_search_versions)
model_version_download_uri = endpoint(GET=_download_uri)
model_version_set_tag = endpoint(POST=_set_version_tag)
model_version_delete_tag = endpoint(DELETE=_delete_version_tag)
model_version_transition_stage = endpoint(POST=_transition_stage)
