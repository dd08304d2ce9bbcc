"""Role names and permissions come from Django's cache; every change that alters them
takes effect on the next request (modelgate.core.authz_cache)."""

from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from modelgate.core import authz_cache, roles
from modelgate.core.services import team_remove_member
from tests.conftest import AUTH_QUERIES, api_for
from tests.factories import UserFactory

ME = "/api/v1/me/"


def _me(client):
    response = client.get(ME)
    assert response.status_code == 200, response.content
    return response.json()


def _fresh(user):
    return type(user).objects.get(pk=user.pk)  # as a request sees it: no memo on the object


def test_a_warm_request_authenticates_with_the_token_query_only(ds_owner):
    client = api_for(ds_owner)
    _me(client)  # fills the cache
    with CaptureQueriesContext(connection) as queries:
        _me(client)
    sqls = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "core_apitoken"' in sql for sql in sqls) == AUTH_QUERIES == 1
    # Neither ModelBackend's permission queries nor the role names (the teams /me lists remain).
    assert not [sql for sql in sqls if "auth_permission" in sql or '"auth_group"."name" IN' in sql]


def test_a_role_granted_or_taken_takes_effect_on_the_next_request(db):
    user = UserFactory(username="rita")
    client = api_for(user)
    assert _me(client)["roles"] == []
    user.groups.add(Group.objects.get(name=roles.RISK_OFFICER))
    assert _me(client)["roles"] == [roles.RISK_OFFICER]
    Group.objects.get(name=roles.RISK_OFFICER).user_set.remove(user)  # the reverse side signals too
    assert _me(client)["roles"] == []


def test_permissions_follow_a_groups_permission_change(ds_owner):
    client = api_for(ds_owner)
    _me(client)
    assert _fresh(ds_owner).has_perm("core.view_team")
    group = Group.objects.get(name=roles.DATA_SCIENTIST)
    permission = Permission.objects.get(content_type__app_label="core", codename="view_team")
    group.permissions.remove(permission)
    assert not _fresh(ds_owner).has_perm("core.view_team")
    group.permissions.add(permission)
    assert _fresh(ds_owner).has_perm("core.view_team")


def test_direct_permissions_and_superuser_changes_take_effect(db):
    user = UserFactory(username="sam")
    assert not _fresh(user).has_perm("core.view_auditevent")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="core", codename="view_auditevent"))
    assert _fresh(user).has_perm("core.view_auditevent")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)  # no signal: the entry checks the row's flags
    assert _fresh(user).has_perm("core.delete_team")
    type(user).objects.filter(pk=user.pk).update(is_superuser=False, is_active=False)
    assert not _fresh(user).has_perm("core.view_auditevent")


def test_renaming_or_deleting_a_role_group_takes_effect(db):
    user = UserFactory(username="ann", roles=[roles.AUDITOR])
    assert roles.user_roles(_fresh(user)) == {roles.AUDITOR}
    group = Group.objects.get(name=roles.AUDITOR)
    group.name = "former-auditors"
    group.save()
    assert roles.user_roles(_fresh(user)) == frozenset()
    group.name = roles.AUDITOR
    group.save()
    assert roles.user_roles(_fresh(user)) == {roles.AUDITOR}
    group.delete()
    assert roles.user_roles(_fresh(user)) == frozenset()


def test_leaving_a_team_hides_its_models_on_the_next_request(ds_owner, team_credit, api):
    client = api_for(ds_owner)
    assert client.post("/api/v1/models/", {"name": "credit-scorer", "team": "credit"}, format="json").status_code == 201
    assert client.get("/api/v1/models/credit-scorer/").status_code == 200
    team_remove_member(team=team_credit, user=ds_owner)
    assert client.get("/api/v1/models/credit-scorer/").status_code == 404


def test_an_entry_computed_from_rows_older_than_a_change_is_not_used(ds_owner):
    # A request read the generation, then the rows; a change committed meanwhile. Its entry
    # was stored under the old generation and must not answer afterwards.
    stale = {"roles": {roles.ADMIN}}
    old = authz_cache.user_authz(_fresh(ds_owner), lambda user: (stale["roles"], set()))
    assert old.roles == {roles.ADMIN}
    authz_cache.invalidate_all()
    assert roles.user_roles(_fresh(ds_owner)) == {roles.DATA_SCIENTIST}


def test_a_lost_generation_invalidates_every_entry(ds_owner):
    authz_cache.user_authz(_fresh(ds_owner), lambda user: ({roles.ADMIN}, set()))
    cache.delete(authz_cache.GENERATION_KEY)  # evicted, or the cache was restarted without its data
    assert roles.user_roles(_fresh(ds_owner)) == {roles.DATA_SCIENTIST}
