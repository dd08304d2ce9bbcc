import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from governance.models import Environment
from modelgate.core import roles


@pytest.mark.django_db(transaction=True)
def test_a_flush_puts_back_roles_and_default_environments():
    call_command("flush", interactive=False)
    assert set(Environment.objects.values_list("slug", flat=True)) == {"dev", "uat", "prod"}
    assert Group.objects.filter(name__in=roles.ROLES).count() == len(roles.ROLES)
