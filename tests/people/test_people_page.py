"""The People page: administrators only, every form calls the audited service, buttons
for memberships from the identity provider are absent and the POST is refused anyway."""

from django.test import Client

from modelgate.core import roles
from modelgate.core.models import AuditEvent, Team
from modelgate.core.services import team_add_member
from tests.factories import UserFactory


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_is_for_administrators_only(ds_owner, auditor, admin_user):
    for user in (ds_owner, auditor):
        client = client_for(user)
        assert client.get("/people/").status_code == 403
        assert client.post("/people/teams/", {"name": "Shadow"}).status_code == 403
        assert b'href="/people/"' not in client.get("/").content
    assert not Team.objects.filter(name="Shadow").exists()
    admin = client_for(admin_user)
    assert admin.get("/people/").status_code == 200
    assert b'href="/people/"' in admin.get("/").content


def test_an_admin_manages_teams_members_roles_and_accounts(admin_user, ds_owner, team_credit):
    client = client_for(admin_user)
    page = client.post("/people/teams/", {"name": "Pricing"}, follow=True)
    assert b"Team Pricing created." in page.content
    pricing = Team.objects.get(slug="pricing")
    page = client.post(f"/people/teams/{pricing.pk}/members/", {"username": "dana"}, follow=True)
    assert b"dana added to Pricing." in page.content
    page = client.post(f"/people/teams/{pricing.pk}/members/", {"username": "dana"}, follow=True)
    assert b"already a member" in page.content
    client.post(f"/people/teams/{pricing.pk}/rename/", {"name": "Pricing & Offers"})
    client.post(f"/people/users/{ds_owner.pk}/roles/", {"role": roles.ML_ENGINEER})
    client.post(f"/people/users/{ds_owner.pk}/roles/{roles.DATA_SCIENTIST}/revoke/")
    client.post(f"/people/teams/{pricing.pk}/members/{ds_owner.pk}/remove/")
    client.post(f"/people/users/{ds_owner.pk}/active/", {"active": "false"})

    ds_owner.refresh_from_db()
    assert not ds_owner.is_active
    assert set(ds_owner.groups.values_list("name", flat=True)) == {roles.ML_ENGINEER, "team:credit"}
    assert Team.objects.get(pk=pricing.pk).name == "Pricing & Offers"
    actions = list(AuditEvent.objects.filter(source="portal").values_list("action", "actor_username"))
    assert actions == [
        ("team.create", "ada"), ("team.add_member", "ada"), ("team.rename", "ada"), ("user.grant_role", "ada"),
        ("user.revoke_role", "ada"), ("team.remove_member", "ada"), ("user.deactivate", "ada"),
    ]


def test_it_tells_which_people_are_in_no_team(admin_user, ds_owner, approver):
    UserFactory(username="newbie", roles=[roles.DATA_SCIENTIST])
    page = client_for(admin_user).get("/people/").content.decode()
    section = page[page.index('id="without-team"'):page.index("</section>", page.index('id="without-team"'))]
    # An approver sees every team by role; a data scientist in no team can do nothing.
    assert "newbie" in section and "dana" not in section and "bea" not in section


def test_memberships_from_the_identity_provider_have_no_buttons_and_are_refused(admin_user, ds_owner, team_fraud):
    team_add_member(team=team_fraud, user=ds_owner, idp_claim="fraud-analysts")
    client = client_for(admin_user)
    page = client.get("/people/").content.decode()
    assert f"/people/teams/{team_fraud.pk}/members/{ds_owner.pk}/remove/" not in page
    assert "identity provider" in page
    # The credit membership was granted by hand: it has its button.
    credit = Team.objects.get(slug="credit")
    assert f"/people/teams/{credit.pk}/members/{ds_owner.pk}/remove/" in page
    refused = client.post(f"/people/teams/{team_fraud.pk}/members/{ds_owner.pk}/remove/", follow=True)
    assert b"comes from the identity provider" in refused.content
    assert ds_owner.groups.filter(pk=team_fraud.group_id).exists()


def test_a_deactivated_account_is_signed_out_at_once(admin_user, ds_owner):
    session = client_for(ds_owner)
    assert session.get("/").status_code == 200
    client_for(admin_user).post(f"/people/users/{ds_owner.pk}/active/", {"active": "false"})
    assert session.get("/")["Location"].startswith("/accounts/login/")
