"""create_team, add_member, grant_role: the same services, audited as commands, with
clear errors instead of tracebacks."""

import pytest
from django.core.management import CommandError, call_command

from modelgate.core import roles
from modelgate.core.models import AuditEvent, Team
from tests.factories import UserFactory


def test_the_commands_create_a_team_add_a_member_and_grant_a_role(db, capsys):
    user = UserFactory(username="sam")
    call_command("create_team", "Credit Risk")
    call_command("add_member", "credit-risk", "sam")
    call_command("grant_role", "sam", roles.DATA_SCIENTIST)
    out = capsys.readouterr().out
    assert "Created team credit-risk (Credit Risk)." in out and "sam added to credit-risk." in out
    assert set(user.groups.values_list("name", flat=True)) == {"team:credit-risk", roles.DATA_SCIENTIST}
    events = AuditEvent.objects.filter(source="command").values_list("action", flat=True)
    assert list(events) == ["team.create", "team.add_member", "user.grant_role"]

    call_command("grant_role", "sam", roles.DATA_SCIENTIST, "--revoke")
    call_command("add_member", "credit-risk", "sam", "--remove")
    assert not user.groups.exists()


def test_the_commands_say_what_is_wrong(db):
    UserFactory(username="sam")
    call_command("create_team", "Credit Risk")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_team", "Credit Risk")
    with pytest.raises(CommandError, match=r"No team with the slug 'nope' \(teams: credit-risk\)"):
        call_command("add_member", "nope", "sam")
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("add_member", "credit-risk", "ghost")
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("grant_role", "sam", "overlord")
    with pytest.raises(CommandError, match="does not hold the role"):
        call_command("grant_role", "sam", roles.AUDITOR, "--revoke")
    assert Team.objects.count() == 1
