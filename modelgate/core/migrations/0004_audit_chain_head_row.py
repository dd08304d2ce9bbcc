"""The audit chain's head row exists from the start, so appends find a row to lock.
After a flush, post_migrate puts it back."""

from django.db import migrations


def create_head(apps, schema_editor):
    from modelgate.core.audit import ensure_chain_head  # the post_migrate receiver, on the migration's models

    ensure_chain_head(schema_editor.connection.alias, apps)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_audit_fewer_indexes")]

    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
