from django.core.management.base import BaseCommand

from modelgate.core.management.commands._people import as_command, team_named, user_named
from modelgate.core.services import team_add_member, team_remove_member


class Command(BaseCommand):
    help = "Add USERNAME to the team TEAM (by slug), or take them out with --remove."

    def add_arguments(self, parser):
        parser.add_argument("team", help="Team slug.")
        parser.add_argument("username")
        parser.add_argument("--remove", action="store_true", help="Remove the membership instead (manual ones only).")

    def handle(self, *args, team, username, remove, **options):
        team_obj, user = team_named(team), user_named(username)
        with as_command():
            if remove:
                team_remove_member(team=team_obj, user=user)
            else:
                team_add_member(team=team_obj, user=user)
        self.stdout.write(f"{username} {'removed from' if remove else 'added to'} {team_obj.slug}.")
