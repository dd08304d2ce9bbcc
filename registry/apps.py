from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self):
        from modelgate.core.backup import register_blob_source
        from modelgate.core.demo import register_demo_step
        from modelgate.core.selectors import register_audit_model_scope
        from registry import demo, roles, storage, tasks  # noqa: F401 (roles: grants its role permissions; tasks: registers its job handlers)
        from registry.selectors import visible_model_ids

        # Audit events about a model are read by those who may see the model.
        register_audit_model_scope(visible_model_ids)
        # Backup records the blobs artifact rows reference; restore checks every one is in the store.
        register_blob_source(storage.referenced_blobs)
        register_demo_step("models", demo.seed, order=10)
