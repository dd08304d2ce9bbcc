from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "modelgate.core"
    label = "core"
    verbose_name = "Modelgate core"

    def ready(self):
        from django.core import checks
        from django.db.models.signals import post_migrate
        from django.urls import register_converter

        from modelgate.core import audit, authz_cache, permissions, roles, sso
        from modelgate.core.converters import IdConverter

        # Every app's URL conf names ids ``<id:pk>``; apps are ready before any URL conf is loaded.
        register_converter(IdConverter, "id")
        checks.register(sso.check_claim_maps)

        # Framework glue: permissions exist only after every app migrated, so
        # role → permission grants are synced after migrate, not in a migration.
        post_migrate.connect(roles.sync_role_permissions, dispatch_uid="core.sync_roles")
        # A flush re-creates permission rows under new ids.
        post_migrate.connect(permissions.clear_permission_id_cache, dispatch_uid="core.clear_permission_ids")
        # A flush empties the audit chain's head table too; appends expect its row.
        # Cached role names and permissions are invalidated by every change that alters them.
        authz_cache.connect_invalidation()
        post_migrate.connect(audit.ensure_chain_head, sender=self, dispatch_uid="core.ensure_chain_head")
