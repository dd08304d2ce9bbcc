from django.core.management.base import BaseCommand

from modelgate.core.management.commands._people import as_command
from modelgate.core.services import team_create


class Command(BaseCommand):
    help = "Create a team (its slug is what MLflow clients and the API name it by)."

    def add_arguments(self, parser):
        parser.add_argument("name", help='Display name, e.g. "Credit Risk".')
        parser.add_argument("--slug", default="", help="Defaults to the name, slugified (credit-risk).")
        parser.add_argument("--description", default="")

    def handle(self, *args, name, slug, description, **options):
        with as_command():
            team = team_create(name=name, slug=slug, description=description)
        self.stdout.write(f"Created team {team.slug} ({team.name}).")
