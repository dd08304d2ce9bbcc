"""/api/v1/teams/ and /api/v1/users/: administrators manage teams, members, roles and
accounts; everyone else is refused; every change is audited; memberships from the
identity provider cannot be changed here."""

from django.contrib.auth import get_user_model

from modelgate.core import roles
from modelgate.core.models import AuditEvent, IdpMembership, Team
from modelgate.core.services import role_grant, team_add_member
from tests.conftest import api_for
from tests.factories import UserFactory


def test_it_creates_renames_and_staffs_a_team_as_an_admin(admin_user, ds_owner):
    api = api_for(admin_user)
    created = api.post("/api/v1/teams/", {"name": "Pricing Models"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["slug"] == "pricing-models" and created.json()["members"] == []

    renamed = api.patch("/api/v1/teams/pricing-models/", {"name": "Pricing"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Pricing"

    added = api.post("/api/v1/teams/pricing-models/add-member/", {"username": "dana"}, format="json")
    assert added.json()["members"] == [{"username": "dana", "source": "manual"}]
    again = api.post("/api/v1/teams/pricing-models/add-member/", {"username": "dana"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    unknown = api.post("/api/v1/teams/pricing-models/add-member/", {"username": "nobody"}, format="json")
    assert unknown.status_code == 400 and "username" in unknown.json()["error"]["fields"]

    removed = api.post("/api/v1/teams/pricing-models/remove-member/", {"username": "dana"}, format="json")
    assert removed.status_code == 200 and removed.json()["members"] == []

    events = AuditEvent.objects.filter(object_type="core.team", object_id=str(Team.objects.get(slug="pricing-models").pk))
    assert list(events.values_list("action", flat=True)) == ["team.create", "team.rename", "team.add_member", "team.remove_member"]
    assert set(events.values_list("actor_username", flat=True)) == {"ada"}
    assert events.get(action="team.rename").changes == {"name": {"before": "Pricing Models", "after": "Pricing"}}


def test_it_refuses_a_duplicate_team_with_the_field_named(admin_user, team_credit):
    response = api_for(admin_user).post("/api/v1/teams/", {"name": "Credit", "slug": "credit"}, format="json")
    assert response.status_code == 400
    assert "slug" in response.json()["error"]["fields"]
    assert Team.objects.filter(slug="credit").count() == 1


def test_it_refuses_people_changes_to_everyone_but_admins(ds_owner, auditor, team_credit):
    for user in (ds_owner, auditor):
        api = api_for(user)
        assert api.post("/api/v1/teams/", {"name": "Shadow"}, format="json").status_code == 403
        assert api.post("/api/v1/teams/credit/add-member/", {"username": user.username}, format="json").status_code == 403
        assert api.get("/api/v1/users/").status_code == 403
        assert api.post(f"/api/v1/users/{user.username}/grant-role/", {"role": "admin"}, format="json").status_code == 403
    assert not Team.objects.filter(name="Shadow").exists()
    assert not roles.has_role(get_user_model().objects.get(pk=ds_owner.pk), roles.ADMIN)
    # Reading teams is every role's (core.view_team).
    assert api_for(ds_owner).get("/api/v1/teams/").status_code == 200


def test_it_lists_users_with_roles_and_teams_and_their_source(admin_user, ds_owner, team_fraud, django_assert_max_num_queries):
    team_add_member(team=team_fraud, user=ds_owner, idp_claim="fraud-analysts")
    api = api_for(admin_user)
    UserFactory.create_batch(5, roles=[roles.ML_ENGINEER], teams=[team_fraud])
    # Token + roles, count-free cursor page, prefetched groups, identities, IdP pairs: no query per row.
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/users/")
    assert response.status_code == 200
    rows = {row["username"]: row for row in response.json()["results"]}
    assert len(rows) == 7
    assert rows["dana"]["roles"] == [{"role": "data_scientist", "source": "manual"}]
    assert sorted(rows["dana"]["teams"], key=lambda t: t["slug"]) == [
        {"slug": "credit", "source": "manual"}, {"slug": "fraud", "source": "idp"},
    ]
    assert rows["ada"]["teams"] == [] and rows["ada"]["roles"] == [{"role": "admin", "source": "manual"}]


def test_it_grants_and_revokes_roles_and_deactivates_accounts(admin_user, ds_owner):
    api = api_for(admin_user)
    victim_api = api_for(ds_owner)
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0  # dana's own set-up is audited too
    granted = api.post("/api/v1/users/dana/grant-role/", {"role": "ml_engineer"}, format="json")
    assert granted.status_code == 200
    assert {"role": "ml_engineer", "source": "manual"} in granted.json()["roles"]
    bad = api.post("/api/v1/users/dana/grant-role/", {"role": "overlord"}, format="json")
    assert bad.status_code == 400 and "role" in bad.json()["error"]["fields"]
    revoked = api.post("/api/v1/users/dana/revoke-role/", {"role": "ml_engineer"}, format="json")
    assert {r["role"] for r in revoked.json()["roles"]} == {"data_scientist"}

    assert victim_api.get("/api/v1/me/").status_code == 200
    assert api.post("/api/v1/users/dana/deactivate/").json()["is_active"] is False
    assert victim_api.get("/api/v1/me/").status_code == 401  # their tokens stop at once
    assert api.post("/api/v1/users/dana/deactivate/").status_code == 409
    assert api.post("/api/v1/users/dana/activate/").json()["is_active"] is True
    assert victim_api.get("/api/v1/me/").status_code == 200

    actions = list(AuditEvent.objects.filter(object_type="auth.user", object_id=str(ds_owner.pk), id__gt=before).values_list("action", flat=True))
    assert actions == ["user.grant_role", "user.revoke_role", "user.deactivate", "user.activate"]


def test_an_admin_cannot_lock_themselves_out(admin_user):
    api = api_for(admin_user)
    assert api.post("/api/v1/users/ada/deactivate/").status_code == 409
    assert api.post("/api/v1/users/ada/revoke-role/", {"role": "admin"}, format="json").status_code == 409
    assert get_user_model().objects.get(pk=admin_user.pk).is_active


def test_it_creates_an_account_without_a_password(admin_user):
    response = api_for(admin_user).post("/api/v1/users/", {"username": "ci-bot", "email": "ci@example.test"}, format="json")
    assert response.status_code == 201 and response.json()["roles"] == []
    assert not get_user_model().objects.get(username="ci-bot").has_usable_password()
    assert api_for(admin_user).post("/api/v1/users/", {"username": "ci-bot"}, format="json").status_code == 400


def test_memberships_from_the_identity_provider_are_not_editable_here(admin_user, ds_owner, team_fraud):
    team_add_member(team=team_fraud, user=ds_owner, idp_claim="fraud-analysts")
    role_grant(user=ds_owner, role=roles.RISK_OFFICER, idp_claim="risk")
    api = api_for(admin_user)
    refused = api.post("/api/v1/teams/fraud/remove-member/", {"username": "dana"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "idp_managed"
    assert "identity provider" in refused.json()["error"]["message"]
    refused = api.post("/api/v1/users/dana/revoke-role/", {"role": "risk_officer"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "idp_managed"
    assert IdpMembership.objects.filter(user=ds_owner).count() == 2
    assert ds_owner.groups.filter(name__in=["team:fraud", "risk_officer"]).count() == 2
    # A manual membership next to them is still the admin's to change.
    assert api.post("/api/v1/teams/credit/remove-member/", {"username": "dana"}, format="json").status_code == 200
