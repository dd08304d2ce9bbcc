from django.core.management.base import BaseCommand

from modelgate.core.backup import create_backup


class Command(BaseCommand):
    help = "Write one archive with the whole database and every artifact, plus a manifest of hashes."

    def add_arguments(self, parser):
        parser.add_argument("path", help="Where to write the archive (e.g. backups/modelgate-2026-11-23.tar.gz)")

    def handle(self, *args, path, **options):
        manifest = create_backup(path)
        artifacts = sum(1 for name in manifest["members"] if name.startswith("artifacts/"))
        self.stdout.write(self.style.SUCCESS(f"backup written to {path}: database + {artifacts} artifact files"))
