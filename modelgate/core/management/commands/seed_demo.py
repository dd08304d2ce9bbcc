import importlib

from django.core.management.base import BaseCommand
from django.db import transaction

from modelgate.core import demo
from modelgate.core.context import actor_context

# Dependency order: registry ← governance ← monitoring.
DEMO_PARTS = ("registry.demo", "governance.demo", "monitoring.demo")


class Command(BaseCommand):
    help = "Load the demo world (teams, a user per role, models, promotions, reports). Idempotent."

    def handle(self, *args, **options):
        with actor_context(source="command"):
            with transaction.atomic():
                context = demo.seed(self.stdout)
            for module_name in DEMO_PARTS:
                try:
                    module = importlib.import_module(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name != module_name:
                        raise
                    continue
                module.seed(self.stdout, context)
        self.stdout.write(self.style.SUCCESS("\nDemo data ready."))
