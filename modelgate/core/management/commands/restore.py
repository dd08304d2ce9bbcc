from django.core.management.base import BaseCommand, CommandError

from modelgate.core.backup import BackupError, RestoreFailed, restore_backup, restore_drill


class Command(BaseCommand):
    help = ("Restore an archive made by `backup` into an empty database (no tables) and the artifact store, "
            "migrate it to this release, and verify row counts, the audit chain and every referenced blob; "
            "on failure remove what was restored. --drill does it all in a scratch database and removes it.")

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--drill", action="store_true",
                            help="Restore into a scratch database (and store), verify, print the figures, remove it.")

    def handle(self, *args, path, drill, **options):
        try:
            if drill:
                restore_drill(path, self.stdout)
                return
            report = restore_backup(path)
        except RestoreFailed as exc:
            raise CommandError(f"restore failed and what it restored was removed: {exc}") from None
        except BackupError as exc:
            raise CommandError(f"restore refused, nothing was changed: {exc}") from None
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("restore verified"))
