from django.contrib.auth import get_user_model
from django.core.management import call_command

from modelgate.core import roles
from modelgate.core.audit import verify_chain
from modelgate.core.models import Team


def test_seed_demo_creates_a_user_per_role_and_is_idempotent(db, capsys):
    call_command("seed_demo", parts="")  # teams and users; tests/demo/ runs the whole story
    first_out = capsys.readouterr().out
    users = get_user_model().objects.count()
    call_command("seed_demo", parts="")

    assert get_user_model().objects.count() == users
    assert Team.objects.count() == 3
    for role in roles.ROLES:
        assert get_user_model().objects.filter(groups__name=role).exists(), role
    assert "dana-demo-pass" in first_out
    assert get_user_model().objects.get(username="dana").check_password("dana-demo-pass")
    assert verify_chain().ok
