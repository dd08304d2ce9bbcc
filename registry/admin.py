"""Admin console for the registry. Registrations, uploads and lineage are written
only through the services (numbering, hashing, permissions, audit), so the admin
can add and delete nothing here; on models and versions it edits the two
mutable fields, description and tags, through the same audited services.
Querysets go through ``restrict`` like every other read."""

from django.contrib import admin

from modelgate.core.admin import AuditorReadOnlyMixin
from modelgate.core.permissions import restrict
from registry import services
from registry.models import (
    Artifact,
    ArtifactBlob,
    Dataset,
    DatasetVersion,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    TrainingRun,
)


class RegistryAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    editable_fields: tuple[str, ...] = ()

    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user, "view")

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.editable_fields]


@admin.register(RegisteredModel)
class RegisteredModelAdmin(RegistryAdmin):
    list_display = ("name", "team", "last_version", "created_by", "created_at", "updated_at")
    list_filter = ("team",)
    search_fields = ("name", "description")
    list_select_related = ("team", "created_by")
    editable_fields = ("description", "tags")

    def save_model(self, request, obj, form, change):
        services.registered_model_update(
            user=request.user, model=obj, description=form.cleaned_data["description"], tags=form.cleaned_data["tags"]
        )


@admin.register(ModelVersion)
class ModelVersionAdmin(RegistryAdmin):
    list_display = ("__str__", "status", "framework", "created_by", "created_at")
    list_filter = ("status", "framework")
    search_fields = ("registered_model__name", "source_commit", "run_id")
    list_select_related = ("registered_model", "created_by")
    editable_fields = ("description", "tags")

    def save_model(self, request, obj, form, change):
        services.modelversion_update(user=request.user, version=obj, description=form.cleaned_data["description"], tags=form.cleaned_data["tags"])


@admin.register(ModelAlias)
class ModelAliasAdmin(RegistryAdmin):
    """Aliases are shown, never written here: ``services.alias_set`` (REST, MLflow) is the one
    way to set one, so the rules registered in ``registry.aliases`` (reserved aliases need an
    approval) hold for every surface."""

    list_display = ("__str__", "version", "updated_at")
    search_fields = ("alias", "registered_model__name")
    list_select_related = ("registered_model", "version__registered_model")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Artifact)
class ArtifactAdmin(RegistryAdmin):
    list_display = ("path", "version", "kind", "blob", "created_at")
    list_filter = ("kind",)
    search_fields = ("path", "blob__sha256", "version__registered_model__name")
    list_select_related = ("version__registered_model", "blob")


@admin.register(ArtifactBlob)
class ArtifactBlobAdmin(RegistryAdmin):
    list_display = ("sha256", "size", "storage_name", "created_at")
    search_fields = ("sha256",)


@admin.register(Dataset)
class DatasetAdmin(RegistryAdmin):
    list_display = ("name", "team", "created_at")
    list_select_related = ("team",)
    search_fields = ("name",)


@admin.register(DatasetVersion)
class DatasetVersionAdmin(RegistryAdmin):
    list_display = ("__str__", "uri", "row_count", "created_at")
    list_select_related = ("dataset",)
    search_fields = ("dataset__name", "version", "sha256")


@admin.register(TrainingRun)
class TrainingRunAdmin(RegistryAdmin):
    list_display = ("external_id", "team", "commit", "started_at", "ended_at")
    list_select_related = ("team",)
    search_fields = ("external_id", "commit")
