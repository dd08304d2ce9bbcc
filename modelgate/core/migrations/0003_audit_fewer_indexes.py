"""Five indexes fewer on the audit table (every write appends to it).

On PostgreSQL the indexes that stay are renamed, not rebuilt: Django's own
operations would drop and re-create the actor_username, model_name and hash
indexes, three full builds on the table every write needs, inside one
transaction. Elsewhere (SQLite, the demo's database) Django's operations run.
"""

from django.db import migrations, models

STATE_OPERATIONS = [
    migrations.AlterField(model_name="auditevent", name="actor_username", field=models.CharField(blank=True, max_length=150)),
    migrations.AlterField(model_name="auditevent", name="hash", field=models.CharField(max_length=64)),
    migrations.AlterField(
        model_name="auditevent", name="model_name",
        field=models.CharField(blank=True, help_text="Registered model concerned, if any", max_length=128),
    ),
    migrations.AlterField(model_name="auditevent", name="object_type", field=models.CharField(blank=True, max_length=100)),
    migrations.AddIndex(model_name="auditevent", index=models.Index(fields=["actor_username"], name="core_audit_actor_username_idx")),
    migrations.AddIndex(model_name="auditevent", index=models.Index(fields=["model_name"], name="core_audit_model_name_idx")),
    migrations.AddConstraint(model_name="auditevent", constraint=models.UniqueConstraint(fields=("hash",), name="core_audit_hash_unique")),
]

POSTGRESQL_FORWARDS = [
    "DROP INDEX IF EXISTS core_auditevent_actor_username_43484976_like",
    "DROP INDEX IF EXISTS core_auditevent_model_name_826b6ac2_like",
    "DROP INDEX IF EXISTS core_auditevent_object_type_e0bee35e_like",
    "DROP INDEX IF EXISTS core_auditevent_hash_f08202aa_like",
    "DROP INDEX IF EXISTS core_auditevent_object_type_e0bee35e",
    "ALTER INDEX core_auditevent_actor_username_43484976 RENAME TO core_audit_actor_username_idx",
    "ALTER INDEX core_auditevent_model_name_826b6ac2 RENAME TO core_audit_model_name_idx",
    "ALTER TABLE core_auditevent RENAME CONSTRAINT core_auditevent_hash_key TO core_audit_hash_unique",
]

POSTGRESQL_BACKWARDS = [
    "ALTER TABLE core_auditevent RENAME CONSTRAINT core_audit_hash_unique TO core_auditevent_hash_key",
    "ALTER INDEX core_audit_model_name_idx RENAME TO core_auditevent_model_name_826b6ac2",
    "ALTER INDEX core_audit_actor_username_idx RENAME TO core_auditevent_actor_username_43484976",
    "CREATE INDEX core_auditevent_object_type_e0bee35e ON core_auditevent (object_type)",
    "CREATE INDEX core_auditevent_hash_f08202aa_like ON core_auditevent (hash varchar_pattern_ops)",
    "CREATE INDEX core_auditevent_object_type_e0bee35e_like ON core_auditevent (object_type varchar_pattern_ops)",
    "CREATE INDEX core_auditevent_model_name_826b6ac2_like ON core_auditevent (model_name varchar_pattern_ops)",
    "CREATE INDEX core_auditevent_actor_username_43484976_like ON core_auditevent (actor_username varchar_pattern_ops)",
]


class RenameOnPostgresql(migrations.SeparateDatabaseAndState):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        for sql in POSTGRESQL_FORWARDS:
            schema_editor.execute(sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        for sql in POSTGRESQL_BACKWARDS:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_roles_and_audit_guard"),
    ]

    operations = [RenameOnPostgresql(state_operations=STATE_OPERATIONS, database_operations=STATE_OPERATIONS)]
