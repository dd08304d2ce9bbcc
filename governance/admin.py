"""Admin console for governance (and the registry's models, unless the registry
registers its own). Auditors read everything and change nothing — checked on
the server by ``AuditorReadOnlyMixin``. Querysets go through ``restrict``.

Policy edits through the admin are audited like API edits: ``save_model`` calls
the same service.
"""

from django.contrib import admin, messages
from django.db import models

from governance import services
from governance.modelrisk import admin as modelrisk_admin
from governance.models import (
    Approval,
    CITestResult,
    Deployment,
    DeploymentSplit,
    Environment,
    PromotionRequest,
    VersionLifecycle,
    Webhook,
    WebhookAllowedAddress,
    WebhookDelivery,
)
from modelgate.core.admin import AuditorReadOnlyMixin
from modelgate.core.errors import ApplicationError
from modelgate.core.permissions import restrict


class RestrictedAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    """Rows visible through the one choke point; state lives in services, so rows are read-only here."""

    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user, "view")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, *args):
        return False  # created through the services (API/portal), which check the rules and audit

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Environment)
class EnvironmentAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "order", "read_only", "requires_previous_environment", "review_interval_days",
                    "approval_max_age_days", "updated_at")
    search_fields = ("name", "slug")
    list_filter = ("read_only",)
    readonly_fields = ("slug", "order", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in form.changed_data if field in services.POLICY_FIELDS}
        try:
            services.environment_update_policy(user=request.user, environment=obj, data=data)
        except ApplicationError as exc:
            messages.error(request, exc.message)


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0
    can_delete = False
    readonly_fields = ("user", "role", "decision", "comment", "created_at")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PromotionRequest)
class PromotionRequestAdmin(RestrictedAdmin):
    list_display = ("id", "version", "environment", "state", "requested_by", "override_state", "created_at", "decided_at")
    list_filter = ("state", "environment", "override_state")
    search_fields = ("version__registered_model__name", "requested_by__username", "reason")
    list_select_related = ("version__registered_model", "environment", "requested_by")
    date_hierarchy = "created_at"
    inlines = [ApprovalInline]


@admin.register(Approval)
class ApprovalAdmin(RestrictedAdmin):
    list_display = ("id", "request", "user", "role", "decision", "created_at")
    list_filter = ("decision", "role")
    search_fields = ("user__username", "comment", "request__version__registered_model__name")
    list_select_related = ("request__version__registered_model", "request__environment", "user")


class SplitInline(admin.TabularInline):
    model = DeploymentSplit
    extra = 0
    can_delete = False
    readonly_fields = ("version", "weight")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Deployment)
class DeploymentAdmin(RestrictedAdmin):
    list_display = ("id", "registered_model", "environment", "status", "deployed_by", "created_at", "review_by")
    list_filter = ("status", "environment")
    search_fields = ("registered_model__name", "deployed_by__username", "note")
    list_select_related = ("registered_model", "environment", "deployed_by")
    date_hierarchy = "created_at"
    inlines = [SplitInline]


@admin.register(DeploymentSplit)
class DeploymentSplitAdmin(RestrictedAdmin):
    list_display = ("id", "deployment", "version", "weight")
    search_fields = ("version__registered_model__name",)
    list_select_related = ("deployment__registered_model", "deployment__environment", "version__registered_model")


@admin.register(VersionLifecycle)
class VersionLifecycleAdmin(RestrictedAdmin):
    list_display = ("version", "state", "changed_by", "changed_at")
    list_filter = ("state",)
    search_fields = ("version__registered_model__name", "reason")
    list_select_related = ("version__registered_model", "changed_by")


@admin.register(CITestResult)
class CITestResultAdmin(RestrictedAdmin):
    list_display = ("id", "version", "kind", "passed", "ci_run_id", "posted_by", "created_at")
    list_filter = ("kind", "passed")
    search_fields = ("version__registered_model__name", "ci_run_id", "name")
    list_select_related = ("version__registered_model", "posted_by")


@admin.register(Webhook)
class WebhookAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "url", "team", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url")
    exclude = ("secret",)  # never displayed; rotate by creating a new subscription
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ("created_by", "created_at")

    def has_add_permission(self, request):
        return False  # through the API, which checks the URL against SSRF and shows the secret once

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in form.changed_data if field in ("name", "url", "events", "is_active", "team")}
        try:
            services.webhook_update(user=request.user, webhook=obj, data=data)
        except ApplicationError as exc:
            messages.error(request, exc.message)

    def delete_model(self, request, obj):
        services.webhook_delete(user=request.user, webhook=obj)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    """The delivery log: status, attempts, last error."""

    list_display = ("id", "webhook", "event", "status", "attempts", "response_status", "next_attempt_at", "created_at")
    list_filter = ("status", "event")
    search_fields = ("webhook__name", "last_error")
    list_select_related = ("webhook",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookAllowedAddress)
class WebhookAllowedAddressAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    list_display = ("network", "note", "created_at")
    search_fields = ("network", "note")

    def save_model(self, request, obj, form, change):
        if change:
            messages.error(request, "Remove the entry and add a new one.")
            return
        try:
            services.webhook_allow_address(user=request.user, network=obj.network, note=obj.note)
        except ApplicationError as exc:
            messages.error(request, exc.message)

    def delete_model(self, request, obj):
        services.webhook_disallow_address(user=request.user, entry=obj)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)


# --- registry models, if the registry app does not register them itself -------------
# (registry precedes governance in INSTALLED_APPS, so its own admin, when present, wins.)


def _register_registry_models():
    from registry import models as r

    specs = {
        r.RegisteredModel: {"list_display": ("name", "team", "last_version", "created_at"), "search_fields": ("name",),
                            "list_filter": ("team",)},
        r.ModelVersion: {"list_display": ("registered_model", "version", "status", "framework", "created_at"),
                         "search_fields": ("registered_model__name", "source_commit", "run_id"),
                         "list_filter": ("status", "framework"), "list_select_related": ("registered_model",)},
        r.ModelAlias: {"list_display": ("registered_model", "alias", "version"), "search_fields": ("alias", "registered_model__name")},
        r.VersionParent: {"list_display": ("child", "relation", "parent")},
        r.ArtifactBlob: {"list_display": ("sha256", "size", "created_at"), "search_fields": ("sha256",)},
        r.Artifact: {"list_display": ("version", "path", "kind", "created_at"), "search_fields": ("path", "blob__sha256")},
        r.Dataset: {"list_display": ("name", "team", "created_at"), "search_fields": ("name",)},
        r.DatasetVersion: {"list_display": ("dataset", "version", "row_count", "created_at"), "search_fields": ("dataset__name", "version")},
        r.TrainingRun: {"list_display": ("external_id", "team", "commit", "created_at"), "search_fields": ("external_id", "commit")},
    }
    for model, options in specs.items():
        if admin.site.is_registered(model):
            continue
        model_admin = type(f"{model.__name__}Admin", (RestrictedAdmin,), options)
        admin.site.register(model, model_admin)


_register_registry_models()

# Model risk management (a governance submodule) registers its models with the same base.
modelrisk_admin.register(RestrictedAdmin)
