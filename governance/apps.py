from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        # Registers the built-in gate kinds; other apps add theirs in their own ready().
        from django.db.models.signals import post_migrate, post_save

        from governance import aliases, gates  # noqa: F401
        from governance.modelrisk import gates as modelrisk_gates  # noqa: F401
        from registry.aliases import register_alias_rule
        from registry.models import ModelVersion

        # The registry's alias services refuse and repair reserved aliases through this rule.
        register_alias_rule(aliases.RULE)

        # Framework glue, not a domain rule: the registry must not know governance, so the
        # "version.registered" webhook listens for the row. post_save runs inside the
        # registration transaction, so the outbox row commits (or rolls back) with the version.
        post_save.connect(_version_registered, sender=ModelVersion, dispatch_uid="governance.version_registered")
        # A flush (`manage.py flush`, transactional tests) empties every table and then sends
        # post_migrate; put the default environments back so the instance stays usable.
        post_migrate.connect(_ensure_default_environments, sender=self, dispatch_uid="governance.default_environments")


def _ensure_default_environments(sender, using="default", apps=None, **kwargs):
    import importlib

    from django.apps import apps as installed_apps

    from governance.models import Environment

    try:
        if apps is not None:
            apps.get_model("governance", "Environment")
            apps.get_model("governance", "TierPolicy")
    except LookupError:  # a partial `migrate` (another app's migration) left governance's tables unmade
        return
    if not Environment.objects.using(using).exists():
        importlib.import_module("governance.migrations.0002_seed_environments").seed(installed_apps, None)
        from governance.modelrisk import defaults

        defaults.seed(installed_apps)


def _version_registered(sender, instance, created, raw=False, **kwargs):
    if not created or raw:
        return
    from governance.choices import WebhookEvent
    from governance.services import webhook_emit

    model = instance.registered_model
    webhook_emit(event=WebhookEvent.VERSION_REGISTERED, model=model, data={
        "model": model.name, "version": instance.version, "version_id": instance.pk, "status": instance.status,
    })
