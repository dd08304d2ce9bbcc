"""First run: everything a fresh installation needs before a first model is registered."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from modelgate.core import roles
from modelgate.core.management.commands._people import as_command
from modelgate.core.models import Team
from modelgate.core.services import role_grant, team_add_member, team_create, token_create


class Command(BaseCommand):
    help = (
        "First run: migrate, create the first administrator and their team, and print an API token "
        "for an MLflow client. Safe to run again: it creates only what is missing (and a new token)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--admin", default="admin", help="The first administrator's username.")
        parser.add_argument("--email", default="", help="Their e-mail address.")
        parser.add_argument("--team", default="Data Science", help="The first team's name (its slug is derived from it).")
        parser.add_argument("--team-slug", default="", help="The first team's slug, if not derived from the name.")
        parser.add_argument("--no-password", action="store_true",
                            help="Give the administrator no password (sign-in through the identity provider only).")

    def handle(self, *args, admin, email, team, team_slug, no_password, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        User = get_user_model()
        password, created = None, False
        with as_command(), transaction.atomic():
            user = User.objects.filter(username=admin).first()
            if user is None:
                password = None if no_password else secrets.token_urlsafe(16)
                # A superuser: the Django admin (kept for auditors and unlocking accounts) opens to them too.
                user = User.objects.create_superuser(username=admin, email=email, password=password)
                created = True
                if no_password:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
            if not user.groups.filter(name=roles.ADMIN).exists():
                role_grant(user=user, role=roles.ADMIN)
            team_obj = Team.objects.filter(slug=team_slug).first() if team_slug else Team.objects.filter(name=team).first()
            if team_obj is None:
                team_obj = team_create(name=team, slug=team_slug)
            if not user.groups.filter(pk=team_obj.group_id).exists():
                team_add_member(team=team_obj, user=user)
            _, raw = token_create(user=user, name="bootstrap")
        if password:
            self.stdout.write(f"Administrator: {admin}  password: {password}  (shown once; change it with "
                              f"`manage.py changepassword {admin}`)")
        elif created:
            self.stdout.write(f"Administrator: {admin} (no password: signs in through the identity provider)")
        else:
            self.stdout.write(f"Administrator: {admin} (already there; left as it was)")
        self.stdout.write(f"Team: {team_obj.slug} ({team_obj.name}), with {admin} as a member")
        self.stdout.write("API token (shown once, only its hash is stored):")
        self.stdout.write(f"MLFLOW_TRACKING_TOKEN={raw}")
