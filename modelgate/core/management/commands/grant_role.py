from django.core.management.base import BaseCommand

from modelgate.core import roles
from modelgate.core.management.commands._people import as_command, user_named
from modelgate.core.services import role_grant, role_revoke


class Command(BaseCommand):
    help = "Grant ROLE to USERNAME, or take it back with --revoke."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=roles.ROLES)
        parser.add_argument("--revoke", action="store_true", help="Revoke the role instead (manual grants only).")

    def handle(self, *args, username, role, revoke, **options):
        user = user_named(username)
        with as_command():
            if revoke:
                role_revoke(user=user, role=role)
            else:
                role_grant(user=user, role=role)
        self.stdout.write(f"{username} {'no longer holds' if revoke else 'now holds'} the role {role}.")
