"""The team restriction (``core.permissions.restrict`` and its ``EXISTS`` filter,
``object_permission_filter``) sees exactly the rows guardian's ``get_objects_for_user``
sees, on both databases."""

import pytest
from guardian.shortcuts import assign_perm, get_objects_for_user

from modelgate.core import permissions
from registry import services
from registry.models import RegisteredModel
from tests.factories import TeamFactory, UserFactory
from tests.registry.factories import make_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def models(ds_owner, team_credit, outsider, team_fraud):
    credit = [make_model(ds_owner, team_credit, name=f"credit-{i}") for i in range(3)]
    fraud = [make_model(outsider, team_fraud, name=f"fraud-{i}") for i in range(2)]
    return credit, fraud


def guardian_rows(user, action="view"):
    codename = "view_registeredmodel" if action == "view" else "change_registeredmodel"
    allowed = get_objects_for_user(
        user, f"registry.{codename}", klass=RegisteredModel.objects.all(), accept_global_perms=False, with_superuser=False
    )
    return set(allowed.values_list("name", flat=True))


def restricted_rows(user, action="view"):
    return set(permissions.restrict(RegisteredModel.objects.all(), user, action).values_list("name", flat=True))


def test_it_sees_exactly_what_guardian_sees(models, ds_owner, outsider, team_credit, team_fraud):
    credit, fraud = models
    loner = UserFactory(username="lou", roles=["data_scientist"], teams=[])
    two_teams = UserFactory(username="tess", roles=["data_scientist"], teams=[team_credit, TeamFactory(slug="ops")])
    services.registered_model_share(user=ds_owner, model=credit[0], grantee=loner)  # a user-level share
    services.registered_model_share(user=ds_owner, model=credit[1], team=team_fraud)  # a team-level share
    assign_perm("registry.change_registeredmodel", loner, fraud[0])  # a user-level right to change

    for user in (ds_owner, outsider, loner, two_teams):
        for action in ("view", "change"):
            assert restricted_rows(user, action) == guardian_rows(user, action), (user.username, action)
    assert restricted_rows(loner) == {"credit-0"}
    assert restricted_rows(loner, "change") == {"fraud-0"}
    assert restricted_rows(outsider) == {"credit-1", "fraud-0", "fraud-1"}
    assert restricted_rows(outsider, "change") == {"fraud-0", "fraud-1"}
    assert restricted_rows(two_teams, "change") == {"credit-0", "credit-1", "credit-2"}


def test_it_filters_with_exists_not_a_hashed_in(models, ds_owner):
    sql = str(permissions.restrict(RegisteredModel.objects.all(), ds_owner, "view").query).upper()
    assert sql.count("EXISTS") == 2
    assert "DJANGO_CONTENT_TYPE" not in sql  # the direct permission tables, not guardian's generic join


def test_it_forgets_permission_ids_when_a_flush_recreates_them(models, ds_owner):
    permissions.permission_id(RegisteredModel, "view_registeredmodel")
    assert permissions._permission_ids
    permissions.clear_permission_id_cache()  # what post_migrate (run by every flush) calls
    assert not permissions._permission_ids
    assert restricted_rows(ds_owner) == {"credit-0", "credit-1", "credit-2"}
