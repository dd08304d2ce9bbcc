"""Admin: rules and data tests editable by admins, telemetry rows read-only (auditors read all)."""

from django.contrib import admin

from modelgate.core.admin import AuditorReadOnlyMixin
from modelgate.core.permissions import restrict
from monitoring.telemetry.models import Alert, DataTest, DataTestResult, HourBucket, SlaRule


class _Restricted(AuditorReadOnlyMixin, admin.ModelAdmin):
    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user, "view")


class _ReadOnly(_Restricted):
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SlaRule)
class SlaRuleAdmin(_Restricted):
    list_display = ("name", "deployment", "kind", "metric", "threshold", "for_count", "severity", "owner", "state", "is_active")
    list_filter = ("kind", "metric", "severity", "state", "is_active")
    search_fields = ("name", "deployment__registered_model__name")
    list_select_related = ("deployment__registered_model", "deployment__environment", "owner")
    readonly_fields = ("state", "consecutive_breaches", "last_value", "last_evaluated_at", "last_breach_at", "episode_alert")
    raw_id_fields = ("deployment", "owner", "created_by")


@admin.register(Alert)
class AlertAdmin(_ReadOnly):
    list_display = ("id", "summary", "severity", "state", "opened_at", "acknowledged_by", "resolved_at")
    list_filter = ("state", "severity")
    list_select_related = ("acknowledged_by",)
    date_hierarchy = "opened_at"


@admin.register(DataTest)
class DataTestAdmin(_Restricted):
    list_display = ("deployment", "field", "kind", "tolerance", "severity")
    list_filter = ("kind", "severity")
    list_select_related = ("deployment__registered_model", "deployment__environment")
    raw_id_fields = ("deployment",)


@admin.register(DataTestResult)
class DataTestResultAdmin(_ReadOnly):
    list_display = ("test", "checked", "failed", "passed", "severity", "created_at")
    list_filter = ("passed", "severity")
    list_select_related = ("test",)


@admin.register(HourBucket)
class HourBucketAdmin(_ReadOnly):
    list_display = ("deployment_id", "version", "start", "count", "errors")
    date_hierarchy = "start"
