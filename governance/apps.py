from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        # Registers the built-in gate kinds; other apps add theirs in their own ready().
        from governance import gates  # noqa: F401
