"""REST API of the registry (for CI). Thin: parse, look up through the selectors
(restricted, so another team's objects are 404), call a service, shape the answer."""

from __future__ import annotations

import json
import os
import re

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.views import APIView

from modelgate.api.viewsets import RestrictedViewSetMixin, parse_input
from modelgate.core.errors import ApplicationError, PayloadTooLargeError
from registry import selectors, services, storage
from registry.api import serializers as s
from registry.filtersets import (
    DatasetFilterSet,
    DatasetVersionFilterSet,
    ModelVersionFilterSet,
    RegisteredModelFilterSet,
    TrainingRunFilterSet,
)
from registry.models import Artifact, Dataset, DatasetVersion, ModelAlias, ModelVersion, RegisteredModel, TrainingRun
from registry.request_body import iter_request_body

NAME_PARAM = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Model name")
VERSION_PARAM = OpenApiParameter("version", OpenApiTypes.INT, OpenApiParameter.PATH, description="Version number")
ERRORS = {code: s.ErrorSerializer for code in (400, 401, 403, 404, 409)}


# --- models -----------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Search registered models", responses={200: s.RegisteredModelSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(summary="A registered model", parameters=[NAME_PARAM], responses={200: s.RegisteredModelSerializer, **ERRORS}),
)
class RegisteredModelViewSet(RestrictedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Registered models visible to you: your teams' own and those shared with you."""

    queryset = RegisteredModel.objects.all()
    serializer_class = s.RegisteredModelSerializer
    filterset_class = RegisteredModelFilterSet
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = "name"
    lookup_field = "name"
    lookup_value_regex = r"[A-Za-z0-9_.-]{1,128}"
    required_perms = {
        "rename": ["registry.change_registeredmodel"],
        "share": ["registry.change_registeredmodel"],
        "unshare": ["registry.change_registeredmodel"],
        "alias": ["registry.change_modelalias"],
    }

    def get_queryset(self):
        return selectors.registered_models(user=self.request.user, action=self.get_restrict_action())

    def get_restrict_action(self):
        # Writes go through services, which lock and re-check "change" themselves;
        # looking up with "view" lets a read-only sharer get a clear 403 instead of 404.
        return "view"

    @extend_schema(summary="Register a model", request=s.RegisteredModelCreateSerializer, responses={201: s.RegisteredModelSerializer, **ERRORS})
    def create(self, request):
        data = s.RegisteredModelCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.registered_model_create(user=request.user, **data.validated_data)
        model = selectors.registered_model_get(user=request.user, name=model.name)
        return Response(s.RegisteredModelSerializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Edit description and tags", parameters=[NAME_PARAM], request=s.RegisteredModelUpdateSerializer, responses={200: s.RegisteredModelSerializer, **ERRORS})
    def partial_update(self, request, name=None):
        model = self.get_object()
        data = s.RegisteredModelUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.registered_model_update(user=request.user, model=model, **data.validated_data)
        return Response(s.RegisteredModelSerializer(selectors.registered_model_get(user=request.user, name=model.name)).data)

    @extend_schema(summary="Delete a model and its versions", parameters=[NAME_PARAM], responses={204: None, **ERRORS})
    def destroy(self, request, name=None):
        services.registered_model_delete(user=request.user, model=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Rename a model", parameters=[NAME_PARAM], request=s.RenameSerializer, responses={200: s.RegisteredModelSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def rename(self, request, name=None):
        data = s.RenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.registered_model_rename(user=request.user, model=self.get_object(), new_name=data.validated_data["name"])
        return Response(s.RegisteredModelSerializer(selectors.registered_model_get(user=request.user, name=model.name)).data)

    @extend_schema(summary="Share read access with a team or user", parameters=[NAME_PARAM], request=s.ShareSerializer, responses={200: s.RegisteredModelSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def share(self, request, name=None):
        data = s.ShareSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.registered_model_share(
            user=request.user, model=self.get_object(), team=data.validated_data.get("team"), grantee=data.validated_data.get("user")
        )
        return Response(s.RegisteredModelSerializer(selectors.registered_model_get(user=request.user, name=model.name)).data)

    @extend_schema(summary="Withdraw a share", parameters=[NAME_PARAM], request=s.ShareSerializer, responses={200: s.RegisteredModelSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def unshare(self, request, name=None):
        data = s.ShareSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.registered_model_unshare(
            user=request.user, model=self.get_object(), team=data.validated_data.get("team"), grantee=data.validated_data.get("user")
        )
        return Response(s.RegisteredModelSerializer(selectors.registered_model_get(user=request.user, name=model.name)).data)


class AliasView(APIView):
    """Point an alias (``champion``, ``staging``) at a version, or remove it."""

    queryset = ModelAlias.objects.all()
    required_perms = {"PUT": ["registry.change_modelalias"], "DELETE": ["registry.delete_modelalias"]}

    @extend_schema(
        summary="Set an alias", request=s.AliasSetSerializer, responses={200: s.AliasSerializer, **ERRORS},
        parameters=[NAME_PARAM, OpenApiParameter("alias", OpenApiTypes.STR, OpenApiParameter.PATH)],
    )
    def put(self, request, name, alias):
        model = selectors.registered_model_get(user=request.user, name=name)
        data = s.AliasSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = ModelVersion.objects.filter(registered_model=model, version=data.validated_data["version"]).first()
        if version is None:
            raise ApplicationError("version: no such version of this model.", fields={"version": ["no such version"]})
        obj = services.alias_set(user=request.user, registered_model=model, alias=alias, version=version)
        return Response(s.AliasSerializer(obj).data)

    @extend_schema(
        summary="Remove an alias", responses={204: None, **ERRORS},
        parameters=[NAME_PARAM, OpenApiParameter("alias", OpenApiTypes.STR, OpenApiParameter.PATH)],
    )
    def delete(self, request, name, alias):
        model = selectors.registered_model_get(user=request.user, name=name)
        services.alias_delete(user=request.user, registered_model=model, alias=alias)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- versions ---------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Versions of a model", parameters=[NAME_PARAM], responses={200: s.ModelVersionSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(summary="One version", parameters=[NAME_PARAM, VERSION_PARAM], responses={200: s.ModelVersionSerializer, **ERRORS}),
)
class ModelVersionViewSet(RestrictedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ModelVersion.objects.all()
    serializer_class = s.ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["version", "created_at"]
    ordering = "-version"
    lookup_field = "version"
    lookup_value_regex = r"[0-9]+"
    required_perms = {
        "finalize": ["registry.change_modelversion"],
        "validate_row": ["registry.view_modelversion"],
        "lineage": ["registry.view_modelversion"],
    }

    def get_restrict_action(self):
        return "view"  # services re-check "change" under a lock (clear 403 for read-only shares)

    def get_queryset(self):
        model = selectors.registered_model_get(user=self.request.user, name=self.kwargs["name"])
        return selectors.model_versions(user=self.request.user).filter(registered_model=model)

    def _version(self) -> ModelVersion:
        return selectors.model_version_get(user=self.request.user, name=self.kwargs["name"], version=self.kwargs["version"])

    def retrieve(self, request, name=None, version=None):
        return Response(s.ModelVersionSerializer(self._version()).data)

    @extend_schema(
        summary="Register a version (idempotent with Idempotency-Key)",
        parameters=[NAME_PARAM, OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, description="Repeat the call with the same key to get the same version back (200 instead of 201).")],
        request=s.ModelVersionRegisterSerializer,
        responses={201: s.ModelVersionSerializer, 200: s.ModelVersionSerializer, **ERRORS},
    )
    def create(self, request, name=None):
        model = selectors.registered_model_get(user=request.user, name=name)
        data = s.ModelVersionRegisterSerializer(data=request.data)
        # Looked up among what the user sees: another team's id reads exactly like a missing one.
        data.fields["training_run"].queryset = selectors.training_runs(user=request.user).filter(team=model.team_id)
        data.fields["trained_on"].child_relation.queryset = selectors.dataset_versions(user=request.user)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        parents = []
        for ref in fields.pop("parents"):
            parent = selectors.model_versions(user=request.user).filter(registered_model__name=ref["model"], version=ref["version"]).first()
            if parent is None:
                raise ApplicationError("parents: unknown model version.", fields={"parents": [f"{ref['model']} v{ref['version']} not found"]})
            parents.append((parent, ref["relation"]))
        version, created = services.modelversion_register(
            user=request.user, registered_model=model, idempotency_key=request.headers.get("Idempotency-Key") or None,
            parents=parents, **fields,
        )
        version = selectors.model_version_get(user=request.user, name=model.name, version=version.version)
        return Response(s.ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Edit description and tags (everything else is immutable: 409)",
        parameters=[NAME_PARAM, VERSION_PARAM], request=s.ModelVersionUpdateSerializer, responses={200: s.ModelVersionSerializer, **ERRORS},
    )
    def partial_update(self, request, name=None, version=None):
        obj = self._version()
        data = s.ModelVersionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        others = {key: request.data[key] for key in request.data if key not in ("description", "tags")}
        services.modelversion_update(user=request.user, version=obj, **data.validated_data, **others)
        return Response(s.ModelVersionSerializer(self._version()).data)

    @extend_schema(summary="Finish the upload: pending_upload → ready or failed", parameters=[NAME_PARAM, VERSION_PARAM], request=s.FinalizeSerializer, responses={200: s.ModelVersionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def finalize(self, request, name=None, version=None):
        obj = self._version()
        data = s.FinalizeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.modelversion_finalize(user=request.user, version=obj, **data.validated_data)
        return Response(s.ModelVersionSerializer(self._version()).data)

    @extend_schema(summary="Check a sample row against the input schema", parameters=[NAME_PARAM, VERSION_PARAM], request=s.SampleRowSerializer, responses={200: s.SampleRowResultSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="validate-row")
    def validate_row(self, request, name=None, version=None):
        from registry.schemas import row_errors

        obj = self._version()
        data = s.SampleRowSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if obj.input_schema is None:
            raise ApplicationError("This version has no input schema.", fields={"row": ["no input schema to validate against"]})
        errors = row_errors(obj.schema_format, obj.input_schema, data.validated_data["row"])
        return Response({"valid": not errors, "errors": errors})

    @extend_schema(
        summary="Upstream and downstream lineage to a bounded depth",
        parameters=[NAME_PARAM, VERSION_PARAM, OpenApiParameter("depth", OpenApiTypes.INT, description=f"1–{selectors.MAX_LINEAGE_DEPTH} (default 3)")],
        responses={200: s.LineageSerializer, **ERRORS},
    )
    @action(detail=True, methods=["get"])
    def lineage(self, request, name=None, version=None):
        obj = self._version()
        try:
            depth = int(request.query_params.get("depth", 3))
        except ValueError:
            raise ApplicationError("depth: must be an integer.", fields={"depth": ["must be an integer"]}) from None
        graph = selectors.lineage_graph(user=request.user, version=obj, depth=depth)
        refs = {node["version"].pk: {"model": node["version"].registered_model.name, "version": node["version"].version} for node in graph["nodes"]}
        return Response(
            {
                "depth": graph["depth"],
                "nodes": [
                    {
                        **refs[node["version"].pk],
                        "level": node["level"],
                        "status": node["version"].status,
                        "framework": node["version"].framework,
                        "training_run": node["version"].training_run.external_id if node["version"].training_run else None,
                        "run": _run_summary(node["version"].training_run),
                        "trained_on": s.DatasetVersionRefSerializer(node["version"].trained_on.all(), many=True).data,
                    }
                    for node in graph["nodes"]
                ],
                "edges": [
                    {"child": refs[e["child_id"]], "parent": refs[e["parent_id"]], "relation": e["relation"]} for e in graph["edges"]
                ],
                "hidden": graph["hidden"],
            }
        )


def _run_summary(run) -> dict | None:
    if run is None:
        return None
    return {"external_id": run.external_id, "name": run.name, "url": run.url, "params": run.params, "metrics": run.metrics, "datasets": run.datasets}


@extend_schema_view(
    list=extend_schema(summary="Search versions across models (metric=auc>=0.8, tag, framework…)", responses={200: s.ModelVersionSerializer(many=True), **ERRORS}),
)
class VersionSearchViewSet(RestrictedViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = ModelVersion.objects.all()
    serializer_class = s.ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["created_at", "id"]
    ordering = "-created_at"

    def get_queryset(self):
        return selectors.model_versions(user=self.request.user)


# --- artifacts --------------------------------------------------------------


class BinaryRenderer(renderers.BaseRenderer):
    """Lets clients send ``Accept: application/octet-stream``; error bodies still go out as JSON."""

    media_type = "application/octet-stream"
    format = "bin"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """One ``bytes=a-b`` range → (start, end inclusive); None to ignore; "unsatisfiable"."""
    match = _RANGE.match(header.strip())
    if not match:
        return None  # multiple or malformed ranges: RFC 9110 lets us answer with the whole file
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end


class ArtifactListView(APIView):
    queryset = Artifact.objects.all()

    @extend_schema(summary="Artifacts of a version", parameters=[NAME_PARAM, VERSION_PARAM], responses={200: s.ArtifactSerializer(many=True), **ERRORS})
    def get(self, request, name, version):
        obj = selectors.model_version_get(user=request.user, name=name, version=version)
        out = []
        for artifact in obj.artifacts.all():
            artifact.version = obj
            out.append(s.ArtifactSerializer(artifact).data)
        return Response(out)


PATH_PARAM = OpenApiParameter("path", OpenApiTypes.STR, OpenApiParameter.PATH, description="Relative file path, e.g. model/model.skops")


class ArtifactView(APIView):
    """Upload (``PUT``, raw body streamed to the store) and download (``GET`` with Range) one file."""

    queryset = Artifact.objects.all()
    renderer_classes = [renderers.JSONRenderer, BinaryRenderer]
    required_perms = {"PUT": ["registry.add_artifact"]}

    @extend_schema(
        summary="Upload one artifact file (raw body, streamed)",
        description=(
            "Send the file as the raw request body with a Content-Length. The SHA-256 is computed while "
            "streaming; send X-Content-SHA256 (or ?sha256=) to have a mismatch refused with nothing stored. "
            "Only a pending_upload version accepts files; an existing path is never overwritten (409)."
        ),
        parameters=[
            NAME_PARAM, VERSION_PARAM, PATH_PARAM,
            OpenApiParameter("kind", OpenApiTypes.STR, enum=[c for c, _ in s.ArtifactKind.choices]),
            OpenApiParameter("sha256", OpenApiTypes.STR, description="Expected SHA-256 (hex)"),
            OpenApiParameter("X-Content-SHA256", OpenApiTypes.STR, OpenApiParameter.HEADER, description="Expected SHA-256 (hex)"),
        ],
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: s.ArtifactSerializer, 411: s.ErrorSerializer, 413: s.ErrorSerializer, **ERRORS},
    )
    def put(self, request, name, version, path):
        obj = selectors.model_version_get(user=request.user, name=name, version=version)
        clean_path = storage.sanitize_artifact_path(path)  # refuse before reading a byte
        query = s.ArtifactUploadQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        raw_length = request.META.get("CONTENT_LENGTH") or ""
        if not raw_length.isdigit():
            raise ApplicationError("Send the file as the raw body with a Content-Length header.", code="length_required", status_code=411)
        limit = settings.ARTIFACT_MAX_BYTES
        if int(raw_length) > limit:
            raise PayloadTooLargeError(f"The file is larger than the limit of {limit} bytes.", fields={"file": ["too large"]})
        expected = request.headers.get("X-Content-SHA256") or query.validated_data.get("sha256")
        # The body is read in chunks (bounded by Content-Length), never held in memory;
        # nothing has read request.data.
        artifact = services.artifact_upload(
            user=request.user, version=obj, path=clean_path, chunks=iter_request_body(request._request, storage.CHUNK_SIZE),
            kind=query.validated_data["kind"], expected_sha256=expected,
            content_type=request.content_type if request.content_type != "application/octet-stream" else "",
        )
        artifact = selectors.artifact_get(user=request.user, name=name, version=version, path=clean_path)
        return Response(s.ArtifactSerializer(artifact).data, status=status.HTTP_201_CREATED)

    def _headers(self, artifact: Artifact) -> dict:
        return {
            "ETag": f'"{artifact.blob_id}"',
            "Accept-Ranges": "bytes",
            "X-Content-SHA256": artifact.blob_id,
            "Content-Disposition": content_disposition_header(True, os.path.basename(artifact.path)),
        }

    @extend_schema(
        summary="Download one artifact file (streamed; ETag, Range)",
        parameters=[NAME_PARAM, VERSION_PARAM, PATH_PARAM, OpenApiParameter("Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="bytes=start-end")],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The whole file"),
            (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The requested range"),
            (304, "application/octet-stream"): OpenApiResponse(description="Not modified (If-None-Match)"),
            (416, "application/octet-stream"): OpenApiResponse(description="Range not satisfiable"),
            **{(code, "application/json"): s.ErrorSerializer for code in (401, 403, 404)},
        },
    )
    def get(self, request, name, version, path):
        artifact = selectors.artifact_get(user=request.user, name=name, version=version, path=path)
        blob = artifact.blob
        headers = self._headers(artifact)
        # Always served as opaque bytes (the declared type is in the metadata): an uploaded
        # text/html file must never render in a portal user's browser on our origin.
        content_type = "application/octet-stream"
        if request.headers.get("If-None-Match", "").strip() in (headers["ETag"], "*"):
            return HttpResponse(status=304, headers={"ETag": headers["ETag"]})
        range_header = request.headers.get("Range")
        parsed = _parse_range(range_header, blob.size) if range_header else None
        if parsed == "unsatisfiable":
            return HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{blob.size}"})
        if parsed is not None:
            start, end = parsed
            response = StreamingHttpResponse(
                storage.iter_blob_range(blob, start, end - start + 1), status=206, content_type=content_type,
                headers={**headers, "Content-Range": f"bytes {start}-{end}/{blob.size}"},
            )
            response["Content-Length"] = str(end - start + 1)
            return response
        # FileResponse lets the WSGI server use sendfile() for the whole file.
        response = FileResponse(
            storage.open_blob(blob), content_type=content_type, headers=headers,
            as_attachment=True, filename=os.path.basename(artifact.path),  # else it names the file by its hash, inline
        )
        response.block_size = storage.CHUNK_SIZE  # when the server has no sendfile: 1 MiB reads, not 4 KiB
        response["Content-Length"] = str(blob.size)
        return response

    @extend_schema(exclude=True)
    def head(self, request, name, version, path):
        artifact = selectors.artifact_get(user=request.user, name=name, version=version, path=path)
        response = HttpResponse(status=200, content_type="application/octet-stream", headers=self._headers(artifact))
        response["Content-Length"] = str(artifact.blob.size)
        return response


# --- lineage records --------------------------------------------------------


class _LineageRecordViewSet(RestrictedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    ordering = "-id"
    selector = None

    def get_queryset(self):
        return type(self).selector(user=self.request.user, action="view")


@extend_schema_view(list=extend_schema(summary="Datasets", responses={200: s.DatasetSerializer(many=True), **ERRORS}), retrieve=extend_schema(summary="A dataset", responses={200: s.DatasetSerializer, **ERRORS}))
class DatasetViewSet(_LineageRecordViewSet):
    queryset = Dataset.objects.all()
    serializer_class = s.DatasetSerializer
    filterset_class = DatasetFilterSet
    selector = staticmethod(selectors.datasets)

    @extend_schema(summary="Declare a dataset", request=s.DatasetSerializer, responses={201: s.DatasetSerializer, **ERRORS})
    def create(self, request):
        dataset = services.dataset_create(user=request.user, **parse_input(s.DatasetSerializer, request))
        return Response(s.DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="Dataset versions", responses={200: s.DatasetVersionSerializer(many=True), **ERRORS}), retrieve=extend_schema(summary="A dataset version", responses={200: s.DatasetVersionSerializer, **ERRORS}))
class DatasetVersionViewSet(_LineageRecordViewSet):
    queryset = DatasetVersion.objects.all()
    serializer_class = s.DatasetVersionSerializer
    filterset_class = DatasetVersionFilterSet
    selector = staticmethod(selectors.dataset_versions)

    @extend_schema(summary="Record a dataset version (URI, hash, rows, schema)", request=s.DatasetVersionSerializer, responses={201: s.DatasetVersionSerializer, **ERRORS})
    def create(self, request):
        data = s.DatasetVersionSerializer(data=request.data)
        # Among the datasets the user sees: another team's id reads exactly like a missing one.
        data.fields["dataset"].queryset = selectors.datasets(user=request.user)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        obj = services.datasetversion_create(user=request.user, dataset=fields.pop("dataset"), **fields)
        return Response(s.DatasetVersionSerializer(obj).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="Training runs", responses={200: s.TrainingRunSerializer(many=True), **ERRORS}), retrieve=extend_schema(summary="A training run", responses={200: s.TrainingRunSerializer, **ERRORS}))
class TrainingRunViewSet(_LineageRecordViewSet):
    queryset = TrainingRun.objects.all()
    serializer_class = s.TrainingRunSerializer
    filterset_class = TrainingRunFilterSet
    selector = staticmethod(selectors.training_runs)

    @extend_schema(summary="Record a training run", request=s.TrainingRunSerializer, responses={201: s.TrainingRunSerializer, **ERRORS})
    def create(self, request):
        run = services.trainingrun_create(user=request.user, **parse_input(s.TrainingRunSerializer, request))
        return Response(s.TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)
