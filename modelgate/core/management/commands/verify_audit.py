from django.core.management.base import BaseCommand, CommandError

from modelgate.core.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and report the first broken event."

    def handle(self, *args, **options):
        result = verify_chain()
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"audit chain OK: {result.checked} events verified"))
            return
        raise CommandError(
            f"audit chain BROKEN at event #{result.first_broken_id}: {result.reason} "
            f"({result.checked} events before it verified)"
        )
