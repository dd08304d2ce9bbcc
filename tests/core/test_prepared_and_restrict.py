"""Prepared queries (core.prepared) and the lean team restriction (core.permissions).

What must hold: a prepared query answers exactly what building the queryset
afresh answers, for every value it is re-run with; a query whose lookup rewrites
its value is built per call instead (still right); and the two-subquery
restriction sees exactly the rows guardian's ``get_objects_for_user`` sees.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm, get_objects_for_user

from modelgate.core import permissions, prepared
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


def by_name(name):
    return RegisteredModel.objects.filter(name=name).values("pk", "name")


def test_a_prepared_query_answers_what_a_fresh_queryset_does_for_every_value(models):
    query = prepared.PreparedQuery(by_name, {"name": prepared.str_placeholder("name")})

    assert not query.fallback
    for name in ("credit-0", "fraud-1", "no-such-model", "credit-%", "it's"):
        assert query.run(name=name) == list(by_name(name))


def test_it_is_compiled_once_and_then_runs_one_query_per_call(models):
    key = ("tests", "by_name")
    prepared.clear_cache()
    first = prepared.prepared(key, by_name, name=prepared.str_placeholder("name"))
    assert prepared.prepared(key, by_name, name=prepared.str_placeholder("name")) is first
    first.run(name="credit-1")  # on PostgreSQL, PREPAREs it on this connection

    with CaptureQueriesContext(connection) as queries:
        assert [row["name"] for row in first.run(name="credit-2")] == ["credit-2"]
    assert len(queries) == 1
    if connection.vendor == "postgresql":
        assert queries[0]["sql"].startswith("EXECUTE mg_")


def test_a_lookup_that_rewrites_its_value_falls_back_to_building_per_call(models):
    def containing(text):
        return RegisteredModel.objects.filter(name__contains=text).order_by("name").values_list("name", flat=False)

    query = prepared.PreparedQuery(containing, {"text": prepared.str_placeholder("text")})

    assert query.fallback  # "contains" wraps the value in %…%: it never reaches the SQL as given
    assert [row[0] for row in query.run(text="fraud")] == ["fraud-0", "fraud-1"]
    assert [row[0] for row in query.run(text="edit-1")] == ["credit-1"]


def test_integer_placeholders_fit_every_integer_column(models):
    # Django turns out-of-range integer lookups into "no rows" at compile time; a
    # placeholder there would freeze the query as empty.
    query = prepared.PreparedQuery(
        lambda last: RegisteredModel.objects.filter(last_version__lte=last).values("name"),
        {"last": prepared.int_placeholder()},
    )
    assert not query.fallback
    assert len(query.run(last=0)) == 5


def guardian_rows(user, action="view"):
    codename = "view_registeredmodel" if action == "view" else "change_registeredmodel"
    allowed = get_objects_for_user(
        user, f"registry.{codename}", klass=RegisteredModel.objects.all(), accept_global_perms=False, with_superuser=False
    )
    return set(allowed.values_list("name", flat=True))


def restricted_rows(user, action="view"):
    return set(permissions.restrict(RegisteredModel.objects.all(), user, action).values_list("name", flat=True))


def test_the_lean_restriction_sees_exactly_what_guardian_sees(models, ds_owner, outsider, team_credit, team_fraud):
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


def test_permission_ids_are_forgotten_when_a_flush_recreates_them(models, ds_owner):
    permissions.permission_id(RegisteredModel, "view_registeredmodel")
    assert permissions._permission_ids
    permissions.clear_permission_id_cache()  # what post_migrate (run by every flush) calls
    assert not permissions._permission_ids
    assert restricted_rows(ds_owner) == {"credit-0", "credit-1", "credit-2"}


def test_insert_row_and_update_row_write_what_save_writes_and_send_its_signals(ds_owner, team_credit):
    from django.db import DatabaseError
    from django.db.models.signals import post_save
    from django.utils import timezone

    sent = []

    def receiver(sender, instance, created, update_fields, **kwargs):
        sent.append((instance.name, created, update_fields and set(update_fields)))

    post_save.connect(receiver, sender=RegisteredModel)
    try:
        now = timezone.now()
        model = RegisteredModel(name="written", team=team_credit, tags={"k": "v"}, created_by=ds_owner, created_at=now, updated_at=now)
        prepared.insert_row(model)
        model.last_version, model.description = 7, "changed"
        prepared.update_row(model, ("last_version", "description"))
    finally:
        post_save.disconnect(receiver, sender=RegisteredModel)

    stored = RegisteredModel.objects.get(pk=model.pk)
    assert (stored.name, stored.team_id, stored.tags, stored.last_version, stored.description) == (
        "written", team_credit.pk, {"k": "v"}, 7, "changed"
    )
    assert not model._state.adding
    assert sent == [("written", True, None), ("written", False, {"last_version", "description"})]
    RegisteredModel.objects.filter(pk=model.pk).delete()
    with pytest.raises(DatabaseError):
        prepared.update_row(model, ("description",))


@pytest.mark.parametrize("persona", ["ds_owner", "auditor", "approver", "admin_user"])
def test_the_token_lookup_knows_the_roles_and_permissions_django_would_find(persona, request):
    from django.contrib.auth import get_user_model

    from modelgate.api.authentication import authenticate_token
    from modelgate.core import roles
    from modelgate.core.services import token_create

    person = request.getfixturevalue(persona)
    _, raw = token_create(user=person, name="t")
    user, _ = authenticate_token(raw)
    fresh = get_user_model().objects.get(pk=person.pk)

    if connection.vendor == "postgresql":  # the token's own row brought them: no further query
        with CaptureQueriesContext(connection) as ctx:
            found = (roles.user_roles(user), user.get_all_permissions())
        assert len(ctx.captured_queries) == 0
        assert user._modelgate_group_ids == set(fresh.groups.values_list("pk", flat=True))
    else:
        found = (roles.user_roles(user), user.get_all_permissions())
    assert found == (roles.user_roles(fresh), fresh.get_all_permissions())
    assert found[1]  # every role holds some permission: an empty set would prove nothing


def test_insert_row_runs_a_following_insert_in_the_same_statement_on_postgresql(ds_owner, team_credit):
    from django.utils import timezone

    from registry.models import RegisteredModelGroupObjectPermission

    now = timezone.now()
    model = RegisteredModel(name="with-rows", team=team_credit, created_by=ds_owner, created_at=now, updated_at=now)
    table = RegisteredModelGroupObjectPermission._meta.db_table
    view_id = permissions.permission_id(RegisteredModel, "view_registeredmodel")
    ran = prepared.insert_row(
        model,
        then=f"INSERT INTO {table} (permission_id, group_id, content_object_id) SELECT %s::integer, %s::integer, inserted.id FROM inserted",  # noqa: S608
        then_params=[view_id, team_credit.group_id],
    )

    assert ran == (connection.vendor == "postgresql")  # elsewhere the caller writes the rows itself
    assert RegisteredModel.objects.filter(pk=model.pk, name="with-rows").exists()
    written = set(RegisteredModelGroupObjectPermission.objects.filter(content_object=model).values_list("permission_id", "group_id"))
    assert written == ({(view_id, team_credit.group_id)} if ran else set())


def test_a_member_removed_from_a_team_is_refused_at_once_even_by_a_token_loaded_user(ds_owner, team_credit):
    from modelgate.api.authentication import authenticate_token
    from modelgate.core.errors import PermissionDeniedError
    from modelgate.core.services import team_remove_member, token_create

    _, raw = token_create(user=ds_owner, name="t")
    user, _ = authenticate_token(raw)  # on PostgreSQL it now remembers its groups
    team_remove_member(team=team_credit, user=user)

    with pytest.raises(PermissionDeniedError):
        services.registered_model_create(user=user, name="after-removal", team=team_credit)
    assert not RegisteredModel.objects.filter(name="after-removal").exists()


@pytest.mark.postgres
def test_prepared_statements_are_planned_once_per_connection():
    # Otherwise PostgreSQL re-plans a PREPAREd search on every call while a plan for
    # the given values looks cheaper than the generic one (~0.8 ms each, measured).
    statement = prepared.Statement("SELECT name FROM registry_registeredmodel WHERE name ~>=~ %s AND name ~<~ %s")
    for _ in range(8):
        statement.fetchall(connection, ["credit-", "credit."])
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s", [statement.name])
        assert cursor.fetchone() == (8, 0)
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
