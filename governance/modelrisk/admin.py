"""Admin for model risk. Inventory, validations, findings and documents are read-only rows
here (their rules and audit live in the services, reached through the portal and the API);
tier policies are data that administrators edit, through the audited services."""

from django.contrib import admin, messages

from governance.modelrisk import services
from governance.modelrisk.models import Finding, InventoryRecord, ModelDocument, TierPolicy, TierRequirement, Validation
from modelgate.core.admin import AuditorReadOnlyMixin
from modelgate.core.errors import ApplicationError


def register(restricted_admin):
    """Called by governance.admin with its ``RestrictedAdmin`` base (restricted rows)."""

    class ViewOnlyAdmin(restricted_admin):
        """View only, for everyone: a change form would save rows (and their many-to-many links)
        without the service's rules — independence, state machine, audit."""

        def has_change_permission(self, request, obj=None):
            return False

    @admin.register(InventoryRecord)
    class InventoryRecordAdmin(ViewOnlyAdmin):
        list_display = ("registered_model", "tier", "computed_tier", "tier_override", "eu_ai_act_category", "source",
                        "assessed_at")
        list_filter = ("tier", "eu_ai_act_category", "source")
        search_fields = ("registered_model__name", "purpose", "accountable_executive")
        list_select_related = ("registered_model",)

    @admin.register(Validation)
    class ValidationAdmin(ViewOnlyAdmin):
        list_display = ("id", "version", "validator", "tier", "state", "outcome", "signed_at", "valid_until")
        list_filter = ("state", "outcome", "tier")
        search_fields = ("version__registered_model__name", "validator__username", "scope")
        list_select_related = ("version__registered_model", "validator")

    @admin.register(Finding)
    class FindingAdmin(ViewOnlyAdmin):
        list_display = ("id", "registered_model", "title", "severity", "state", "owner", "due_date")
        list_filter = ("state", "severity")
        search_fields = ("registered_model__name", "title", "owner__username")
        list_select_related = ("registered_model", "owner")

    @admin.register(ModelDocument)
    class ModelDocumentAdmin(ViewOnlyAdmin):
        list_display = ("version", "template", "revision", "updated_by", "updated_at", "last_export_sha256")
        search_fields = ("version__registered_model__name",)
        list_select_related = ("version__registered_model", "updated_by")


@admin.register(TierPolicy)
class TierPolicyAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    list_display = ("tier", "revalidation_interval_days", "updated_at")
    readonly_fields = ("tier", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.changed_data if f in services.TIER_POLICY_FIELDS}
        try:
            services.tier_policy_update(user=request.user, policy=obj, data=data)
        except ApplicationError as exc:
            messages.error(request, exc.message)


@admin.register(TierRequirement)
class TierRequirementAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    list_display = ("policy", "environment", "extra_approver_roles", "review_interval_days", "updated_at")
    list_filter = ("policy", "environment")
    list_select_related = ("policy", "environment")
    readonly_fields = ("updated_at",)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in services.REQUIREMENT_FIELDS if f in form.cleaned_data}
        try:
            services.tier_requirement_set(user=request.user, policy=form.cleaned_data["policy"],
                                          environment=form.cleaned_data["environment"], data=data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
