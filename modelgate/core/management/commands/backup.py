from django.core.management.base import BaseCommand, CommandError

from modelgate.core.backup import BackupError, create_backup


class Command(BaseCommand):
    help = ("Write one archive with the database (pg_dump custom format on PostgreSQL, SQLite's backup API on "
            "SQLite) and every artifact, plus a manifest of hashes, row counts and referenced blobs.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="Where to write the archive (e.g. backups/modelgate-2026-11-23.tar)")
        parser.add_argument("--portable", action="store_true",
                            help="Write the database as JSON Lines (dumpdata) instead, to move to another database "
                                 "vendor; much slower to restore than the native form.")
        parser.add_argument("--no-artifacts", action="store_true",
                            help="Leave the artifact store out (a versioned, replicated bucket): record where it is "
                                 "and the blobs the database references, which restore checks are there.")

    def handle(self, *args, path, portable, no_artifacts, **options):
        try:
            manifest = create_backup(path, portable=portable, artifacts=not no_artifacts)
        except BackupError as exc:
            raise CommandError(f"backup failed, no archive was written: {exc}") from None
        database = manifest["database"]
        artifacts = sum(1 for name in manifest["members"] if name.startswith("artifacts/"))
        where = (f"{artifacts} artifact files" if not no_artifacts
                 else f"artifacts left in {manifest['artifacts']['store']} ({len(manifest['artifacts']['blobs'])} blobs referenced)")
        self.stdout.write(self.style.SUCCESS(
            f"backup written to {path}: database ({database['format']}, {sum(database['rows'].values()):,} rows "
            f"in {len(database['rows'])} tables) + {where}"))
