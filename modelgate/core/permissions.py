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
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet
from guardian.shortcuts import get_objects_for_user
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from modelgate.core import roles

# (app_label, codename) -> Permission.id. Ids never change once a permission row
# exists; a flush re-creates them, so post_migrate clears this (see core.apps).
_permission_ids: dict[tuple[str, str], int] = {}


def clear_permission_id_cache(**kwargs) -> None:
    _permission_ids.clear()


def permission_id(model, codename: str) -> int:
    key = (model._meta.app_label, codename)
    found = _permission_ids.get(key)
    if found is None:
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        found = Permission.objects.only("pk").get(content_type=content_type, codename=codename).pk
        _permission_ids[key] = found
    return found


def has_action_perm(user, model, action: str) -> bool:
    if not user.is_authenticated:
        return False
    if action != "view" and roles.is_read_only(user):
        return False
    return user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}")


# What restriction() decides for a user, a model and an action.
NOTHING, EVERYTHING, TEAM_ROWS = "nothing", "everything", "team"


def restriction(user, model, action: str = "view") -> str:
    """Which rows of ``model`` ``user`` may ``action``: NOTHING, EVERYTHING, or TEAM_ROWS.

    Roles decide the first two; TEAM_ROWS means the object permissions of the
    user and their teams on the model's team-owned root decide row by row.
    """
    if not has_action_perm(user, model, action):
        return NOTHING
    if getattr(model, "team_scope", None) is None:
        return EVERYTHING
    if user.is_superuser or roles.has_role(user, roles.ADMIN):
        return EVERYTHING
    if action == "view" and roles.sees_all_teams(user):
        return EVERYTHING
    return TEAM_ROWS


def restrict(queryset: QuerySet, user, action: str = "view") -> QuerySet:
    """Rows of ``queryset`` that ``user`` may ``action``.

    A model opts in by declaring ``team_scope = (path, "app.Model")``: the
    lookup path (``""`` for itself) to its team-owned root object, whose guardian
    object permissions decide.
    """
    decided = restriction(user, queryset.model, action)
    if decided == NOTHING:
        return queryset.none()
    if decided == EVERYTHING:
        return queryset
    root_path, root_label = queryset.model.team_scope
    root_model = apps.get_model(root_label)
    if root_label == "core.Team":
        # Team-owned rows without object permissions of their own: membership decides.
        lookup = f"{root_path}__group__user" if root_path else "group__user"
        return queryset.filter(**{lookup: user.pk})
    codename = f"{'view' if action == 'view' else 'change'}_{root_model._meta.model_name}"
    direct = object_permission_filter(user.pk, root_model, codename, root_path or "pk")
    if direct is not None:
        return queryset.filter(direct)
    allowed = get_objects_for_user(
        user, f"{root_model._meta.app_label}.{codename}", klass=root_model.objects.all(),
        accept_global_perms=False, with_superuser=False,
    ).values("pk")
    return queryset.filter(**{f"{root_path}__in" if root_path else "pk__in": allowed})


def object_permission_filter(user_id: int, root_model, codename: str, root_ref: str = "pk") -> Q | None:
    """A filter keeping the rows whose root object (``root_ref``, a path to
    ``root_model``'s primary key) the user holds ``codename`` on, directly or
    through one of their groups, object-level only: the rows guardian's
    ``get_objects_for_user(..., accept_global_perms=False)`` gives.

    Guarantee: the same rows as guardian's query, on every database, costing one
    probe of the unique (group or user, permission, object) index per candidate
    row, whatever the number of permission rows. Built as two correlated
    ``EXISTS`` on the root's direct-foreign-key permission tables: guardian's
    general form joins through content types and casts generic keys, and an
    ``IN (subquery)`` ORed with another cannot become a join, so PostgreSQL
    hashes every permission row on each query (figures: bench/README.md).
    None when the root has no direct tables (guardian's generic tables then answer).
    """
    group_table = get_group_obj_perms_model(root_model)
    user_table = get_user_obj_perms_model(root_model)
    if group_table.objects.is_generic() or user_table.objects.is_generic():
        return None
    perm = permission_id(root_model, codename)
    memberships = get_user_model().groups.through.objects.filter(user_id=user_id).values("group_id")
    root = OuterRef(root_ref)
    via_groups = group_table.objects.filter(content_object_id=root, permission_id=perm, group_id__in=memberships)
    via_user = user_table.objects.filter(content_object_id=root, permission_id=perm, user_id=user_id)
    return Q(Exists(via_groups)) | Q(Exists(via_user))
