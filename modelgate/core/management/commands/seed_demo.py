import importlib
import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from modelgate.core import demo
from modelgate.core.context import actor_context

# Story order: models, then their reports, then promotions (the fairness and explainability
# gates read the reports), then production telemetry. Code dependencies still point one way.
# Model risk assesses the models and validates credit-scorer v2 before governance promotes it to Prod.
DEMO_PARTS = ("registry.demo", "monitoring.demo", "governance.modelrisk.demo", "governance.demo", "monitoring.telemetry.demo")


class Command(BaseCommand):
    help = "Load the demo world (teams, a user per role, models, promotions, reports). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--parts", default=None,
                            help="Comma-separated parts to run after the teams and users (default: all of "
                                 f"{', '.join(DEMO_PARTS)}); an empty string runs none.")

    def handle(self, *args, **options):
        parts = DEMO_PARTS if options["parts"] is None else [p for p in options["parts"].split(",") if p]
        unknown = sorted(set(parts) - set(DEMO_PARTS))
        if unknown:
            raise CommandError(f"Unknown demo parts: {', '.join(unknown)}; known: {', '.join(DEMO_PARTS)}.")
        base = os.environ.get("MODELGATE_URL", "http://127.0.0.1:8000").rstrip("/")
        with actor_context(source="command"):
            with transaction.atomic():
                context = demo.seed(self.stdout)
            for module_name in [p for p in DEMO_PARTS if p in parts]:
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name != module_name:
                        raise
                    continue
                started = time.monotonic()
                context = module.seed(self.stdout, context) or context
                self.stdout.write(f"  ({module_name}: {time.monotonic() - started:.1f} s)\n")
        self.stdout.write(self.style.SUCCESS("\nDemo data ready. What to look at (log in as the user named):"))
        for label, url in context.get("tour", []):
            self.stdout.write(f"  {label}:\n    {base}{url}\n")
