from django.core.management.base import BaseCommand, CommandError

from modelgate.core.context import actor_context
from modelgate.core.models import ApiToken
from modelgate.core.services import token_revoke


class Command(BaseCommand):
    help = "Revoke an API token, given its prefix (shown in lists) or the whole token."

    def add_arguments(self, parser):
        parser.add_argument("token_or_prefix")

    def handle(self, *args, token_or_prefix, **options):
        value = token_or_prefix
        token = ApiToken.objects.filter(key_hash=ApiToken.hash_key(value)).first() or (
            ApiToken.objects.filter(key_prefix=value).first() if len(value) >= 8 else None
        )
        if token is None:
            raise CommandError("No such token.")
        with actor_context(source="command"):
            token_revoke(token=token)
        self.stdout.write(f"revoked {token}")
