"""Admin for the reports section: read-only (reports are immutable; changes go through the services)."""

from django.contrib import admin

from modelgate.core.permissions import restrict
from monitoring.models import EvaluationDataset, ModelCard, Report


class _ReadOnlyRestricted(admin.ModelAdmin):
    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user, "view")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Report)
class ReportAdmin(_ReadOnlyRestricted):
    list_display = ("id", "kind", "version", "status", "verdict", "created_at", "finished_at")
    list_filter = ("kind", "status")
    list_select_related = ("version__registered_model",)


@admin.register(EvaluationDataset)
class EvaluationDatasetAdmin(_ReadOnlyRestricted):
    list_display = ("id", "name", "version", "task", "created_at")
    list_select_related = ("version__registered_model",)


@admin.register(ModelCard)
class ModelCardAdmin(_ReadOnlyRestricted):
    list_display = ("version", "generated_at", "updated_at")
    list_select_related = ("version__registered_model",)
