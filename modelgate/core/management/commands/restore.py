from django.core.management.base import BaseCommand, CommandError

from modelgate.core.audit import verify_chain
from modelgate.core.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore an archive made by `backup` into an empty, migrated instance. Verifies every hash first."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        try:
            manifest = restore_backup(path)
        except BackupError as exc:
            raise CommandError(f"restore refused, nothing was changed: {exc}") from None
        chain = verify_chain()
        chain_text = "OK" if chain.ok else f"BROKEN at #{chain.first_broken_id}"
        self.stdout.write(
            self.style.SUCCESS(
                f"restored backup of {manifest['created_at']}: {len(manifest['members'])} members verified; "
                f"audit chain {chain_text}"
            )
        )
