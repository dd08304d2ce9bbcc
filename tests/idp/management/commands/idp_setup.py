from django.core.management import call_command
from django.core.management.base import BaseCommand
from oidc_provider.models import Client, ResponseType, RSAKey


class Command(BaseCommand):
    help = "Migrate, create a signing key and register Modelgate as a confidential client (code flow)."

    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument("--redirect-uri", required=True)
        parser.add_argument("--post-logout-uri", required=True)

    def handle(self, *args, client_id, client_secret, redirect_uri, post_logout_uri, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not RSAKey.objects.exists():
            call_command("creatersakey")
        client, _ = Client.objects.update_or_create(
            client_id=client_id,
            defaults={"name": "Modelgate", "client_type": "confidential", "client_secret": client_secret,
                      "require_consent": False, "reuse_consent": True, "jwt_alg": "RS256",
                      "_redirect_uris": redirect_uri, "_post_logout_redirect_uris": post_logout_uri},
        )
        client.response_types.set([ResponseType.objects.get(value="code")])
