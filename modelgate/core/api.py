from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from modelgate.api.viewsets import ReadOnlyRestrictedViewSet
from modelgate.core import roles
from modelgate.core.models import ApiToken, Job
from modelgate.core.services import token_create, token_revoke, user_teams


class JobSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = (
            "id", "kind", "status", "progress", "params", "result", "error", "object_type", "object_id",
            "created_at", "started_at", "finished_at", "attempts", "duration_seconds",
        )


class JobViewSet(ReadOnlyRestrictedViewSet):
    """Progress of any background task (reports, verification, exports)."""

    serializer_class = JobSerializer
    queryset = Job.objects.all()
    ordering = "-created_at"
    filterset_fields = ("status", "kind", "object_type", "object_id")

    def get_queryset(self):
        queryset = super().get_queryset()
        user = self.request.user
        if roles.sees_all_teams(user):
            return queryset
        return queryset.filter(created_by=user)


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    teams = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    """Who the credentials belong to: username, roles and teams."""

    required_perms = {"GET": []}

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        return Response(
            {
                "username": user.get_username(),
                "roles": sorted(roles.user_roles(user)),
                "teams": list(user_teams(user).values_list("slug", flat=True)),
            }
        )


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ("id", "name", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
        read_only_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at")


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; only its hash is stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "token")


class ApiTokenViewSet(ReadOnlyRestrictedViewSet):
    """Your own API tokens. A token carries exactly your rights; the raw value is shown once."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.all()
    ordering = "-created_at"
    required_perms = {"revoke": ["core.change_apitoken"]}

    def get_queryset(self):
        return super().get_queryset().filter(user=self.request.user)

    @extend_schema(request=ApiTokenSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = token_create(user=request.user, **serializer.validated_data)
        data = ApiTokenSerializer(token).data | {"token": raw}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = token_revoke(token=self.get_object())
        return Response(ApiTokenSerializer(token).data)
