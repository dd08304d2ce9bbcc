from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "modelgate.core"
    label = "core"
    verbose_name = "Modelgate core"

    def ready(self):
        from django.core import checks
        from django.db.models.signals import post_migrate
        from django.urls import register_converter

        from modelgate.core import audit, audit_words, authz_cache, permissions, roles, sso
        from modelgate.core.converters import IdConverter

        # Every app's URL conf names ids ``<id:pk>``; apps are ready before any URL conf is loaded.
        register_converter(IdConverter, "id")
        checks.register(sso.check_claim_maps)

        # Framework glue: permissions exist only after every app migrated, so
        # role → permission grants are synced after migrate, not in a migration.
        post_migrate.connect(roles.sync_role_permissions, dispatch_uid="core.sync_roles")
        # A flush re-creates permission rows under new ids.
        post_migrate.connect(permissions.clear_permission_id_cache, dispatch_uid="core.clear_permission_ids")
        # Cached role names and permissions are invalidated by every change that alters them.
        authz_cache.connect_invalidation()
        # A flush empties the audit chain's head table too; appends expect its row.
        post_migrate.connect(audit.ensure_chain_head, sender=self, dispatch_uid="core.ensure_chain_head")
        # Audit events in sentences: each app names its own actions.
        audit_words.register()
        # Framework glue: sign-ins and sign-outs go into the chain (failed ones stay in axes' records,
        # so a brute-force run cannot make every request queue on the chain head).
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        user_logged_in.connect(_logged_in, dispatch_uid="core.audit_login")
        # Role and team memberships are audited wherever they change (services, admin, shell).
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_save

        from modelgate.core import memberships

        m2m_changed.connect(memberships.groups_changed, sender=get_user_model().groups.through, dispatch_uid="core.audit_memberships")
        post_save.connect(memberships.user_saved, sender=get_user_model(), dispatch_uid="core.memberships_raw_load")
        user_logged_out.connect(_logged_out, dispatch_uid="core.audit_logout")


def _logged_in(sender, request, user, **kwargs):
    from modelgate.core import audit

    audit.record(action="auth.login", obj=user, actor=user, object_repr=user.get_username())


def _logged_out(sender, request, user, **kwargs):
    from modelgate.core import audit

    if user is not None:  # a logout without a session has nobody to credit
        audit.record(action="auth.logout", obj=user, actor=user, object_repr=user.get_username())
