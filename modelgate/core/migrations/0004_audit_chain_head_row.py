"""The audit chain's head row exists from the start: appends lock it and never create it
(a deferred append cannot: modelgate/core/audit.py). After a flush, post_migrate puts it back."""

from django.db import migrations

GENESIS_HASH = "0" * 64


def create_head(apps, schema_editor):
    head = apps.get_model("core", "AuditChainHead")
    head.objects.using(schema_editor.connection.alias).get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})


class Migration(migrations.Migration):
    dependencies = [("core", "0003_audit_fewer_indexes")]

    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
