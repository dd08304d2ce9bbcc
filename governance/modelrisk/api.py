"""REST API of model risk, mounted under /api/v1/model-risk/. Thin: look objects up through
restricted querysets (another team's answer 404), parse input, call a service."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from governance.modelrisk import selectors, services
from governance.modelrisk.choices import ModelSource, Severity, Tier, ValidationOutcome
from governance.modelrisk.models import Finding, InventoryRecord, ModelDocument, TierPolicy, Validation
from modelgate.api.viewsets import ViewScopedLookupMixin, parse_input
from modelgate.core.errors import ApplicationError, NotFoundError
from modelgate.core.permissions import restrict
from registry.models import ModelVersion, RegisteredModel

ERRORS = {code: OpenApiResponse(description="Error envelope {error: {code, message, fields}}") for code in (400, 401, 403, 404, 409)}


def _visible_model(user, name: str) -> RegisteredModel:
    model = restrict(RegisteredModel.objects.select_related("team"), user, "view").filter(name=name).first()
    if model is None:
        raise NotFoundError("No such model.", fields={"model": ["No model with this name is visible to you."]})
    return model


def _visible_version(user, version_id: int) -> ModelVersion:
    version = restrict(ModelVersion.objects.select_related("registered_model__team"), user, "view").filter(pk=version_id).first()
    if version is None:
        raise NotFoundError("No such version.", fields={"version_id": ["No version with this id is visible to you."]})
    return version


# --- serializers ------------------------------------------------------------------------------


class InventoryRecordSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name")
    team = serializers.CharField(source="registered_model.team.slug")
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    override_by = serializers.CharField(source="override_by.username", allow_null=True, default=None)
    assessed_by = serializers.CharField(source="assessed_by.username", allow_null=True, default=None)

    class Meta:
        model = InventoryRecord
        fields = ("id", "model", "team", "purpose", "business_use", "owner", "accountable_executive", "output_users",
                  "source", "vendor", "answers", "computed_tier", "tier_override", "override_reason", "override_by",
                  "override_at", "tier", "eu_ai_act_category", "assessed_by", "assessed_at", "updated_at")


class InventoryUpdateInput(serializers.Serializer):
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    business_use = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    owner = serializers.CharField(required=False, allow_null=True, help_text="Username")
    accountable_executive = serializers.CharField(required=False, allow_blank=True, max_length=200)
    output_users = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    source = serializers.ChoiceField(choices=ModelSource.choices, required=False)
    vendor = serializers.CharField(required=False, allow_blank=True, max_length=200)

    def validate_owner(self, value):
        if value is None:
            return None
        user = get_user_model().objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError("No active user with this username.")
        return user


class AssessInput(serializers.Serializer):
    answers = serializers.DictField(help_text="materiality, complexity, reliance, decisions_about_people, eu_ai_act_category")


class OverrideInput(serializers.Serializer):
    tier = serializers.ChoiceField(choices=Tier.choices, allow_null=True)
    reason = serializers.CharField(max_length=5000)


class TierPolicySerializer(serializers.ModelSerializer):
    requirements = serializers.SerializerMethodField()

    class Meta:
        model = TierPolicy
        fields = ("tier", "description", "revalidation_interval_days", "checklist", "requirements", "updated_at")

    def get_requirements(self, obj) -> list[dict]:
        return [{"environment": r.environment.slug, "extra_approver_roles": r.extra_approver_roles, "gates": r.gates,
                 "required_monitoring_rules": r.required_monitoring_rules, "review_interval_days": r.review_interval_days}
                for r in obj.requirements.all()]


class ValidationSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.registered_model.name")
    version = serializers.IntegerField(source="version.version")
    version_id = serializers.IntegerField()
    validator = serializers.CharField(source="validator.username")

    class Meta:
        model = Validation
        fields = ("id", "model", "version", "version_id", "validator", "tier", "scope", "checklist", "state", "outcome",
                  "conditions", "summary", "evidence", "signed_at", "valid_until", "created_at")


class ValidationCreateInput(serializers.Serializer):
    version_id = serializers.IntegerField(min_value=1)
    scope = serializers.CharField(max_length=10000)


class ValidationUpdateInput(serializers.Serializer):
    scope = serializers.CharField(required=False, max_length=10000)
    checklist = serializers.DictField(required=False)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=20000)


class SignInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[c for c in ValidationOutcome.choices if c[0]])
    summary = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    conditions = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)


class FindingSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name")
    owner = serializers.CharField(source="owner.username")
    raised_by = serializers.CharField(source="raised_by.username")
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = ("id", "model", "validation", "versions", "title", "severity", "description", "owner", "due_date",
                  "state", "raised_by", "remediation", "remediation_submitted_at", "closed_at", "acceptance_reason",
                  "acceptance_expires", "created_at")

    def get_versions(self, obj) -> list[int]:
        return [v.version for v in obj.versions.all()]


class FindingCreateInput(serializers.Serializer):
    validation_id = serializers.IntegerField(min_value=1)
    title = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=Severity.choices)
    description = serializers.CharField(max_length=20000)
    owner = serializers.CharField(help_text="Username of the owning-team member who remediates")
    due_date = serializers.DateField()
    version_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)


class TextInput(serializers.Serializer):
    comment = serializers.CharField(max_length=10000)


class RemediationInput(serializers.Serializer):
    remediation = serializers.CharField(max_length=20000)


class AcceptRiskInput(serializers.Serializer):
    reason = serializers.CharField(max_length=10000)
    expires = serializers.DateField()


class ModelDocumentSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.registered_model.name")
    version = serializers.IntegerField(source="version.version")

    class Meta:
        model = ModelDocument
        fields = ("id", "model", "version", "template", "sections", "revision", "updated_at", "last_export_sha256")


class DocumentCreateInput(serializers.Serializer):
    version_id = serializers.IntegerField(min_value=1)


class DocumentUpdateInput(serializers.Serializer):
    texts = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=20000))


# --- viewsets ------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Model inventory with risk tiers", responses={200: InventoryRecordSerializer(many=True)}),
    retrieve=extend_schema(summary="A model's inventory record", responses={200: InventoryRecordSerializer, **ERRORS}),
)
class InventoryRecordViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = InventoryRecord.objects.all()
    serializer_class = InventoryRecordSerializer
    lookup_field = "registered_model__name"
    lookup_url_kwarg = "model"
    lookup_value_regex = "[^/]+"
    required_perms = {"assess": ["governance.change_inventoryrecord"], "override_tier": ["governance.override_tier"],
                      "partial_update": ["governance.change_inventoryrecord"]}

    def get_queryset(self):
        return selectors.inventory_record_list(self.request.user)

    def _answer(self, record):
        return Response(InventoryRecordSerializer(self.get_queryset().get(pk=record.pk)).data)

    @extend_schema(summary="Describe the model (owning team or risk officer; audited)", request=InventoryUpdateInput,
                   responses={200: InventoryRecordSerializer, **ERRORS})
    def partial_update(self, request, model=None):
        data = parse_input(InventoryUpdateInput, request, partial=True)
        record = services.inventory_record_update(user=request.user, model=_visible_model(request.user, model), data=data)
        return self._answer(record)

    @extend_schema(summary="Answer the risk-tier questionnaire (the tier is computed and audited)", request=AssessInput,
                   responses={200: InventoryRecordSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def assess(self, request, model=None):
        data = parse_input(AssessInput, request)
        record = services.inventory_assess(user=request.user, model=_visible_model(request.user, model), answers=data["answers"])
        return self._answer(record)

    @extend_schema(summary="Risk officer: override the tier with a written reason (null lifts the override)",
                   request=OverrideInput, responses={200: InventoryRecordSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="override-tier")
    def override_tier(self, request, model=None):
        data = parse_input(OverrideInput, request)
        record = services.inventory_override_tier(user=request.user, model=_visible_model(request.user, model), **data)
        return self._answer(record)


@extend_schema_view(
    list=extend_schema(summary="Tier policies and what each tier adds per environment", responses={200: TierPolicySerializer(many=True)}),
    retrieve=extend_schema(summary="A tier policy", responses={200: TierPolicySerializer, **ERRORS}),
)
class TierPolicyViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = TierPolicy.objects.prefetch_related("requirements__environment").order_by("tier")
    serializer_class = TierPolicySerializer
    lookup_field = "tier"
    pagination_class = None


@extend_schema_view(
    list=extend_schema(summary="Validations", responses={200: ValidationSerializer(many=True)}),
    retrieve=extend_schema(summary="A validation with its checklist and frozen evidence", responses={200: ValidationSerializer, **ERRORS}),
)
class ValidationViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Independent validation of a version by a model validator outside the owning team."""

    queryset = Validation.objects.all()
    serializer_class = ValidationSerializer
    required_perms = {"create": ["governance.add_validation"], "partial_update": ["governance.change_validation"],
                      "sign": ["governance.sign_validation"]}

    def get_queryset(self):
        return selectors.validation_list(self.request.user)

    def _answer(self, validation, code=status.HTTP_200_OK):
        return Response(ValidationSerializer(self.get_queryset().get(pk=validation.pk)).data, status=code)

    @extend_schema(summary="Start a validation (model validators outside the owning team)", request=ValidationCreateInput,
                   responses={201: ValidationSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(ValidationCreateInput, request)
        validation = services.validation_start(user=request.user, version=_visible_version(request.user, data["version_id"]),
                                               scope=data["scope"])
        return self._answer(validation, status.HTTP_201_CREATED)

    @extend_schema(summary="Record scope, checklist results and summary", request=ValidationUpdateInput,
                   responses={200: ValidationSerializer, **ERRORS})
    def partial_update(self, request, pk=None):
        data = parse_input(ValidationUpdateInput, request)
        return self._answer(services.validation_update(user=request.user, validation=self.get_object(), **data))

    @extend_schema(summary="Sign the outcome (evidence frozen; revalidation date set)", request=SignInput,
                   responses={200: ValidationSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        data = parse_input(SignInput, request)
        return self._answer(services.validation_sign(user=request.user, validation=self.get_object(), **data))


@extend_schema_view(
    list=extend_schema(summary="Validation findings", responses={200: FindingSerializer(many=True)}),
    retrieve=extend_schema(summary="A finding", responses={200: FindingSerializer, **ERRORS}),
)
class FindingViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """open → remediation submitted → closed by the validator, or risk accepted by a risk officer."""

    queryset = Finding.objects.all()
    serializer_class = FindingSerializer
    required_perms = {"create": ["governance.add_finding"], "remediate": ["governance.change_finding"],
                      "close": ["governance.change_finding"], "reopen": ["governance.change_finding"],
                      "accept_risk": ["governance.accept_risk_finding"]}

    def get_queryset(self):
        return selectors.finding_list(self.request.user)

    def _answer(self, finding, code=status.HTTP_200_OK):
        return Response(FindingSerializer(self.get_queryset().get(pk=finding.pk)).data, status=code)

    @extend_schema(summary="Raise a finding on a validation (its independent validator)", request=FindingCreateInput,
                   responses={201: FindingSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(FindingCreateInput, request)
        validation = selectors.validation_list(request.user).filter(pk=data["validation_id"]).first()
        if validation is None:
            raise NotFoundError("No such validation.", fields={"validation_id": ["No validation with this id is visible to you."]})
        owner = get_user_model().objects.filter(username=data["owner"]).first()
        if owner is None:
            raise ApplicationError("Unknown owner.", fields={"owner": ["No user with this username."]})
        versions = [_visible_version(request.user, pk) for pk in data["version_ids"]] or None
        finding = services.finding_create(
            user=request.user, validation=validation, title=data["title"], severity=data["severity"],
            description=data["description"], owner=owner, due_date=data["due_date"], versions=versions,
        )
        return self._answer(finding, status.HTTP_201_CREATED)

    @extend_schema(summary="Owning team: submit the remediation", request=RemediationInput,
                   responses={200: FindingSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def remediate(self, request, pk=None):
        data = parse_input(RemediationInput, request)
        return self._answer(services.finding_submit_remediation(user=request.user, finding=self.get_object(), **data))

    @extend_schema(summary="Validator: close the finding (remediation verified)", request=TextInput,
                   responses={200: FindingSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = parse_input(TextInput, request)
        return self._answer(services.finding_close(user=request.user, finding=self.get_object(), **data))

    @extend_schema(summary="Validator: send the remediation back (open again)", request=TextInput,
                   responses={200: FindingSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        data = parse_input(TextInput, request)
        return self._answer(services.finding_reopen(user=request.user, finding=self.get_object(), **data))

    @extend_schema(summary="Risk officer: accept the risk with a reason and an expiry", request=AcceptRiskInput,
                   responses={200: FindingSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="accept-risk")
    def accept_risk(self, request, pk=None):
        data = parse_input(AcceptRiskInput, request)
        return self._answer(services.finding_accept_risk(user=request.user, finding=self.get_object(), **data))


@extend_schema_view(
    list=extend_schema(summary="Model documentation per version", responses={200: ModelDocumentSerializer(many=True)}),
    retrieve=extend_schema(summary="A version's documentation", responses={200: ModelDocumentSerializer, **ERRORS}),
)
class ModelDocumentViewSet(ViewScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ModelDocument.objects.all()
    serializer_class = ModelDocumentSerializer
    required_perms = {"create": ["governance.add_modeldocument"], "partial_update": ["governance.change_modeldocument"],
                      "export": ["governance.view_modeldocument"]}

    def get_queryset(self):
        return selectors.document_list(self.request.user)

    @extend_schema(summary="Start a version's documentation from its tier/regime template, prefilled",
                   request=DocumentCreateInput, responses={201: ModelDocumentSerializer, **ERRORS})
    def create(self, request):
        data = parse_input(DocumentCreateInput, request)
        document = services.document_create(user=request.user, version=_visible_version(request.user, data["version_id"]))
        return Response(ModelDocumentSerializer(self.get_queryset().get(pk=document.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Complete sections (section key → text)", request=DocumentUpdateInput,
                   responses={200: ModelDocumentSerializer, **ERRORS})
    def partial_update(self, request, pk=None):
        data = parse_input(DocumentUpdateInput, request)
        document = services.document_update(user=request.user, document=self.get_object(), texts=data["texts"])
        return Response(ModelDocumentSerializer(self.get_queryset().get(pk=document.pk)).data)

    @extend_schema(summary="Export as HTML (or PDF when WeasyPrint is installed); the file's SHA-256 is audited",
                   parameters=[OpenApiParameter("file_format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["html", "pdf"])],
                   responses={(200, "text/html"): OpenApiTypes.STR, **ERRORS})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        content, content_type, digest = services.document_export(
            user=request.user, document=self.get_object(), file_format=request.query_params.get("file_format", "html"))
        return _download(content, content_type, digest, self.get_object())


def _download(content: bytes, content_type: str, digest: str, document) -> HttpResponse:
    extension = "pdf" if content_type == "application/pdf" else "html"
    response = HttpResponse(content, content_type=content_type)
    name = f"{document.version.registered_model.name}-v{document.version.version}-documentation.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-SHA256"] = digest
    return response


def register(router) -> None:
    router.register("model-risk/inventory", InventoryRecordViewSet, basename="inventoryrecord")
    router.register("model-risk/tier-policies", TierPolicyViewSet, basename="tierpolicy")
    router.register("model-risk/validations", ValidationViewSet, basename="validation")
    router.register("model-risk/findings", FindingViewSet, basename="finding")
    router.register("model-risk/documents", ModelDocumentViewSet, basename="modeldocument")
