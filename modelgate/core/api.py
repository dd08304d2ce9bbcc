from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from modelgate.api.viewsets import ReadOnlyRestrictedViewSet, parse_input
from modelgate.core import roles, selectors, sso
from modelgate.core.models import ApiToken, Job, Team
from modelgate.core.services import (
    role_grant,
    role_revoke,
    team_add_member,
    team_create,
    team_remove_member,
    team_rename,
    token_create,
    token_revoke,
    user_create,
    user_set_active,
    user_teams,
)


class JobSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = (
            "id", "kind", "status", "progress", "params", "result", "error", "object_type", "object_id",
            "created_at", "started_at", "finished_at", "attempts", "duration_seconds",
            "parent", "chunk_index", "chunks_total", "chunks_done", "worker",
        )


class JobViewSet(ReadOnlyRestrictedViewSet):
    """Progress of any background task (reports, verification, exports)."""

    serializer_class = JobSerializer
    queryset = Job.objects.all()
    ordering = "-created_at"
    filterset_fields = ("status", "kind", "object_type", "object_id", "parent")

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
    paused = serializers.SerializerMethodField(
        help_text="Why the token does not work now (its owner has not signed in through single sign-on for "
        "SSO_TOKEN_MAX_IDLE_DAYS), or empty when it works."
    )

    class Meta:
        model = ApiToken
        fields = ("id", "name", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "paused")
        read_only_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at")

    def get_paused(self, token) -> str:
        return self.context.get("idle_problem", "")


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

    def get_serializer_context(self):
        # Tokens listed here are the user's own: one answer for all of them.
        return super().get_serializer_context() | {"idle_problem": sso.token_idle_problem(self.request.user.pk)}

    @extend_schema(request=ApiTokenSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = token_create(user=request.user, **serializer.validated_data)
        data = ApiTokenSerializer(token, context=self.get_serializer_context()).data | {"token": raw}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = token_revoke(token=self.get_object())
        return Response(ApiTokenSerializer(token, context=self.get_serializer_context()).data)


# --- teams and people ------------------------------------------------------------


class MembershipSerializer(serializers.Serializer):
    username = serializers.CharField()
    source = serializers.ChoiceField(choices=["manual", "idp"], help_text="idp: from the identity provider, changed only there.")


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ("id", "slug", "name", "description", "created_at", "members")
        read_only_fields = ("id", "created_at")

    @extend_schema_field(MembershipSerializer(many=True))
    def get_members(self, team) -> list[dict]:
        managed = self.context.get("idp_pairs", set())
        return [
            {"username": user.get_username(), "source": "idp" if (user.pk, team.group_id) in managed else "manual"}
            for user in team.group.members
        ]


class TeamCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    slug = serializers.SlugField(max_length=64, required=False, allow_blank=True, help_text="Derived from the name when left out.")
    description = serializers.CharField(required=False, allow_blank=True, default="")


class TeamRenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)


class MemberInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)


def _user_named(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": [f"No user named {username!r}."]})
    return user


class _PeopleViewSet(ReadOnlyRestrictedViewSet):
    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["idp_pairs"] = selectors.idp_managed_pairs()
        return context

    def _answer(self, obj):
        obj = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(obj).data)


class TeamViewSet(_PeopleViewSet):
    """Teams and their members (``source``: ``manual`` or ``idp``, from the identity
    provider). Administrators create and rename teams and add and remove members."""

    serializer_class = TeamSerializer
    queryset = Team.objects.all()
    ordering = "name"
    lookup_field = "slug"
    required_perms = {
        "create": ["core.add_team"], "partial_update": ["core.change_team"],
        "add_member": ["core.change_team"], "remove_member": ["core.change_team"],
    }

    def get_queryset(self):
        return selectors.teams_with_members().filter(pk__in=super().get_queryset().values("pk"))

    @extend_schema(request=TeamCreateSerializer, responses={201: TeamSerializer})
    def create(self, request):
        team = team_create(actor=request.user, **parse_input(TeamCreateSerializer, request))
        return Response(self.get_serializer(self.get_queryset().get(pk=team.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TeamRenameSerializer, responses=TeamSerializer)
    def partial_update(self, request, slug=None):
        team = team_rename(team=self.get_object(), actor=request.user, **parse_input(TeamRenameSerializer, request))
        return self._answer(team)

    @extend_schema(request=MemberInputSerializer, responses=TeamSerializer)
    @action(detail=True, methods=["post"], url_path="add-member")
    def add_member(self, request, slug=None):
        team = self.get_object()
        user = _user_named(parse_input(MemberInputSerializer, request)["username"])
        team_add_member(team=team, user=user, actor=request.user)
        return self._answer(team)

    @extend_schema(request=MemberInputSerializer, responses=TeamSerializer)
    @action(detail=True, methods=["post"], url_path="remove-member")
    def remove_member(self, request, slug=None):
        team = self.get_object()
        user = _user_named(parse_input(MemberInputSerializer, request)["username"])
        team_remove_member(team=team, user=user, actor=request.user)
        return self._answer(team)


class RoleGrantSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=roles.ROLES)
    source = serializers.ChoiceField(choices=["manual", "idp"], read_only=True)


class TeamMembershipSerializer(serializers.Serializer):
    slug = serializers.CharField()
    source = serializers.ChoiceField(choices=["manual", "idp"])


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    teams = serializers.SerializerMethodField()
    sso_last_login_at = serializers.SerializerMethodField(help_text="Last sign-in through the identity provider, if any.")

    class Meta:
        model = get_user_model()
        fields = ("id", "username", "email", "first_name", "last_name", "is_active", "last_login", "roles", "teams", "sso_last_login_at")
        read_only_fields = ("id", "is_active", "last_login")

    def _memberships(self, user, *, teams: bool) -> list[dict]:
        managed = self.context.get("idp_pairs", set())
        out = []
        for group in user.all_groups:
            team = getattr(group, "team", None)  # a missing reverse one-to-one raises an AttributeError
            if teams and team is not None:
                out.append({"slug": team.slug, "source": "idp" if (user.pk, group.pk) in managed else "manual"})
            elif not teams and group.name in roles.ROLES:
                out.append({"role": group.name, "source": "idp" if (user.pk, group.pk) in managed else "manual"})
        return out

    @extend_schema_field(RoleGrantSerializer(many=True))
    def get_roles(self, user) -> list[dict]:
        return self._memberships(user, teams=False)

    @extend_schema_field(TeamMembershipSerializer(many=True))
    def get_teams(self, user) -> list[dict]:
        return self._memberships(user, teams=True)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_sso_last_login_at(self, user):
        identity = getattr(user, "sso_identity", None)
        return identity.last_login_at if identity is not None else None


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class UserViewSet(_PeopleViewSet):
    """Accounts with their roles and teams (``source``: ``manual`` or ``idp``).
    Administrators create accounts (no password: people sign in through the identity
    provider, services use API tokens), grant and revoke roles, deactivate and reactivate."""

    serializer_class = UserSerializer
    queryset = get_user_model().objects.all()
    ordering = "username"
    lookup_field = "username"
    lookup_value_regex = "[^/]+"
    filterset_fields = ("is_active",)
    required_perms = {
        "create": ["auth.add_user"], "grant_role": ["auth.change_user"], "revoke_role": ["auth.change_user"],
        "deactivate": ["auth.change_user"], "activate": ["auth.change_user"],
    }

    def get_queryset(self):
        return selectors.users_with_access().filter(pk__in=super().get_queryset().values("pk"))

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def create(self, request):
        user = user_create(actor=request.user, **parse_input(UserCreateSerializer, request))
        return Response(self.get_serializer(self.get_queryset().get(pk=user.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RoleGrantSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"], url_path="grant-role")
    def grant_role(self, request, username=None):
        user = self.get_object()
        role_grant(user=user, actor=request.user, **parse_input(RoleGrantSerializer, request))
        return self._answer(user)

    @extend_schema(request=RoleGrantSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"], url_path="revoke-role")
    def revoke_role(self, request, username=None):
        user = self.get_object()
        role_revoke(user=user, actor=request.user, **parse_input(RoleGrantSerializer, request))
        return self._answer(user)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, username=None):
        return self._answer(user_set_active(user=self.get_object(), active=False, actor=request.user))

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, username=None):
        return self._answer(user_set_active(user=self.get_object(), active=True, actor=request.user))
