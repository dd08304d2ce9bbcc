"""The access review: who holds which role and team now, and every membership change with
who made it — audited wherever it is made, the Django admin included."""

import pytest
from django.contrib.auth.models import Group

from modelgate.core import roles, services
from modelgate.core.context import actor_context
from modelgate.core.models import AuditEvent
from modelgate.core.sentences import sentence
from tests.factories import UserFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


def test_it_lists_who_holds_each_role_and_team(auditor, approver, risk, ds_owner, mle_teammate, outsider):
    html = client_for(auditor).get("/governance/access-review/").content.decode()
    roles_table = html[html.index('id="roles-table"'):html.index('id="people-title"')]
    assert '<tr data-role="Business approver"><th scope="row">Business approver</th><td>bea</td>' in roles_table
    assert '<tr data-role="Risk officer"><th scope="row">Risk officer</th><td>rick</td>' in roles_table
    assert '<tr data-role="Data scientist"><th scope="row">Data scientist</th><td>dana, otto</td>' in roles_table
    people = html[html.index('id="people-table"'):]
    assert '<tr data-user="mel">' in people and "no team" in people  # bea, rick and audrey belong to no team
    assert "<strong>Credit</strong>: dana, mel" in html.replace("Credit Risk", "Credit")


def test_a_role_granted_in_the_django_admin_is_audited_with_who_made_it(admin_user, auditor):
    admin_user.is_staff = True
    admin_user.save()
    person = UserFactory(username="pat", roles=[])
    client = client_for(admin_user)
    group = Group.objects.get(name=roles.RISK_OFFICER)
    response = client.post(f"/admin/auth/user/{person.pk}/change/", {
        "username": "pat", "email": "pat@example.test", "is_active": "on", "groups": [group.pk],
        "date_joined_0": person.date_joined.strftime("%Y-%m-%d"), "date_joined_1": person.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": person.date_joined.strftime("%Y-%m-%d"), "initial-date_joined_1": person.date_joined.strftime("%H:%M:%S"),
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="user.grant_role", object_repr="pat")
    assert event.actor_username == "ada" and event.source == "admin"
    assert sentence(event) == "ada gave pat the role Risk officer"
    html = client_for(auditor).get("/governance/access-review/").content.decode()
    changes = html[html.index('id="membership-changes"'):]
    assert "ada gave pat the role Risk officer" in changes and "<small>admin</small>" in changes


def test_team_changes_through_the_service_are_audited_once(admin_user, team_credit):
    person = UserFactory(username="sam", roles=[])
    with actor_context(source="command"):
        services.team_add_member(team=team_credit, user=person)
        services.team_remove_member(team=team_credit, user=person)
    events = list(AuditEvent.objects.filter(action__startswith="team.", changes__member__isnull=False).order_by("id")
                  .filter(object_id=str(team_credit.pk)).values_list("action", flat=True))
    assert events[-2:] == ["team.add_member", "team.remove_member"]
    assert AuditEvent.objects.filter(action="team.add_member", changes__member__after="sam").count() == 1


def test_a_role_removed_by_clearing_groups_is_audited(ds_owner):
    ds_owner.groups.clear()
    revoked = AuditEvent.objects.filter(action__in=["user.revoke_role", "team.remove_member"], changes__isnull=False)
    assert {e.action for e in revoked} == {"user.revoke_role", "team.remove_member"}
    assert any(sentence(e) == "system took the role Data scientist from dana" for e in revoked)


def test_the_access_review_is_read_only_and_for_auditors_and_admins(ds_owner, approver, auditor):
    assert client_for(ds_owner).get("/governance/access-review/").status_code == 403
    assert client_for(approver).get("/governance/access-review/").status_code == 403
    html = client_for(auditor).get("/governance/access-review/").content.decode()
    assert "<form" not in html.split('<main', 1)[-1].split("</main>")[0].replace('<form method="post" action="/accounts/logout/"', "")
