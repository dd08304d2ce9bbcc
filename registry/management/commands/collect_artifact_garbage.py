from django.core.management.base import BaseCommand

from modelgate.core.context import actor_context
from registry import storage


class Command(BaseCommand):
    help = "Delete artifact blobs no version refers to and abandoned temporary uploads (after a grace period)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-hours", type=int, default=24, help="grace period for uploads in flight")

    def handle(self, *args, older_than_hours, **options):
        with actor_context(source="command"):
            result = storage.collect_garbage(older_than_seconds=older_than_hours * 3600)
        self.stdout.write(f"Removed {result['blobs']} orphan blobs and {result['temporary_files']} temporary files.")
