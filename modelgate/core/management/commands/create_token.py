from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from modelgate.core.context import actor_context
from modelgate.core.services import token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it once (for scripted CI set-up)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="ci", help="A label for the token.")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        with actor_context(source="command", user=None):
            _, raw = token_create(user=user, name=name)
        self.stdout.write(raw)
