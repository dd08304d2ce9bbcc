import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from modelgate.core import demo
from modelgate.core.context import actor_context


class Command(BaseCommand):
    help = "Load the demo world (teams, a user per role, models, promotions, reports). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--parts", default=None,
                            help="Comma-separated demo steps to run after the teams and users (default: all the "
                                 "installed apps registered); an empty string runs none.")

    def handle(self, *args, **options):
        known = demo.DEMO_STEPS.keys()
        parts = known if options["parts"] is None else [p for p in options["parts"].split(",") if p]
        unknown = sorted(set(parts) - set(known))
        if unknown:
            raise CommandError(f"Unknown demo parts: {', '.join(unknown)}; known: {', '.join(known)}.")
        base = os.environ.get("MODELGATE_URL", "http://127.0.0.1:8000").rstrip("/")
        with actor_context(source="command"):
            with transaction.atomic():
                context = demo.seed(self.stdout)
            for key, seed_step in demo.DEMO_STEPS.items():
                if key not in parts:
                    continue
                started = time.monotonic()
                context = seed_step(self.stdout, context) or context
                self.stdout.write(f"  ({key}: {time.monotonic() - started:.1f} s)\n")
        self.stdout.write(self.style.SUCCESS("\nDemo data ready. What to look at (log in as the user named):"))
        for label, url in context.get("tour", []):
            self.stdout.write(f"  {label}:\n    {base}{url}\n")
