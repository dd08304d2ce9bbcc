from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        from django.db.models.signals import post_migrate

        # Role definitions and grants first: serializers and forms list the roles when imported.
        # Imported for their registrations: built-in gate kinds (model risk's too), audit sentences,
        # job handlers and Celery tasks.
        from governance import (  # noqa: F401
            audit_words,
            contributions,
            gates,
            roles,  # noqa: F401, I001
            tasks,
        )
        from governance.modelrisk import gates as modelrisk_gates  # noqa: F401

        # What governance shows and checks in the registry and the portal (extension points).
        contributions.register()
        # Governance's audit events in sentences (and the audit trail's action dropdown).
        audit_words.register()
        # A flush (`manage.py flush`, transactional tests) empties every table and then sends
        # post_migrate; put the default environments back so the instance stays usable.
        post_migrate.connect(_ensure_default_environments, sender=self, dispatch_uid="governance.default_environments")


def _ensure_default_environments(sender, using="default", apps=None, **kwargs):
    from django.apps import apps as installed_apps

    from governance.defaults import seed_environments
    from governance.modelrisk import defaults as modelrisk_defaults
    from governance.models import Environment

    try:
        if apps is not None:
            apps.get_model("governance", "Environment")
    except LookupError:  # a partial `migrate` (another app's migration) left governance's tables unmade
        return
    if not Environment.objects.using(using).exists():
        seed_environments(installed_apps, None)
        modelrisk_defaults.seed(installed_apps)
