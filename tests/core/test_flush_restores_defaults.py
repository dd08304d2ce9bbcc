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


@pytest.mark.django_db
def test_a_partial_migrate_that_leaves_governance_unmigrated_does_not_seed_it():
    # `migrate core 0002` on a new database sends post_migrate with a state where
    # governance has no tables yet; seeding then failed with "relation does not exist".
    from django.apps import apps as installed_apps
    from django.db.migrations.state import ProjectState

    from governance.apps import _ensure_default_environments

    Environment.objects.all().delete()
    _ensure_default_environments(installed_apps.get_app_config("governance"), apps=ProjectState().apps)
    assert not Environment.objects.exists()
    _ensure_default_environments(installed_apps.get_app_config("governance"), apps=installed_apps)
    assert Environment.objects.count() == 3
