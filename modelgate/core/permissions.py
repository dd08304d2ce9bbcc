"""The one choke point for visibility: ``restrict(queryset, user, action)``.

Two axes, ANDed:
- roles decide which actions (object-less ``user.has_perm("app.action_model")``);
- teams decide which objects (guardian object permissions on the team-owned
  root object, queried with ``accept_global_perms=False``).

Auditors, admins, risk officers and business approvers read every team's
objects by explicit decision (``roles.sees_all_teams``); only admins write
across teams.
"""

from django.apps import apps
from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from modelgate.core import roles


def has_action_perm(user, model, action: str) -> bool:
    if not user.is_authenticated:
        return False
    if action != "view" and roles.is_read_only(user):
        return False
    return user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}")


def restrict(queryset: QuerySet, user, action: str = "view") -> QuerySet:
    """Rows of ``queryset`` that ``user`` may ``action``.

    A model opts in by declaring ``team_scope = (path, "app.Model")``: the
    lookup path (``""`` for itself) to its team-owned root object, whose guardian
    object permissions decide.
    """
    model = queryset.model
    if not has_action_perm(user, model, action):
        return queryset.none()
    scope = getattr(model, "team_scope", None)
    if scope is None:
        return queryset
    if user.is_superuser or roles.has_role(user, roles.ADMIN):
        return queryset
    if action == "view" and roles.sees_all_teams(user):
        return queryset
    root_path, root_label = scope
    root_model = apps.get_model(root_label)
    if root_label == "core.Team":
        # Team-owned rows without object permissions of their own: membership decides.
        lookup = f"{root_path}__group__user" if root_path else "group__user"
        return queryset.filter(**{lookup: user})
    root_perm = f"{root_model._meta.app_label}.{'view' if action == 'view' else 'change'}_{root_model._meta.model_name}"
    allowed = get_objects_for_user(
        user, root_perm, klass=root_model.objects.all(), accept_global_perms=False, with_superuser=False
    ).values("pk")
    lookup = f"{root_path}__in" if root_path else "pk__in"
    return queryset.filter(**{lookup: allowed})
