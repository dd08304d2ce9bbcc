"""Admin console. Auditors read everything and change nothing; checked on the server."""

from django.contrib import admin

from modelgate.core import roles, sso
from modelgate.core.models import ApiToken, AuditEvent, Job, Team
from modelgate.core.selectors import audit_events_for


class AuditorReadOnlyMixin:
    """Auditors get view permission only: no add/change/delete, no write actions."""

    def _read_only(self, request):
        return roles.is_read_only(request.user)

    def has_add_permission(self, request, *args):
        return not self._read_only(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return not self._read_only(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._read_only(request) and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        if self._read_only(request):
            return {}
        return super().get_actions(request)


class AppendOnlyAdmin(admin.ModelAdmin):
    """Nobody edits or deletes append-only records through the admin, admins included."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")


@admin.register(ApiToken)
class ApiTokenAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "user", "key_prefix", "created_at", "last_used_at", "revoked_at", "paused")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "key_prefix")
    readonly_fields = ("key_prefix", "key_hash", "created_at", "last_used_at")
    list_select_related = ("user", "user__sso_identity")

    @admin.display(description="Paused (SSO idle)")
    def paused(self, token) -> str:
        """SSO_TOKEN_MAX_IDLE_DAYS: the owner's last single sign-on is too old."""
        cutoff = sso.token_idle_cutoff()
        identity = getattr(token.user, "sso_identity", None)
        if cutoff is None or identity is None or identity.last_login_at >= cutoff:
            return ""
        return f"paused: no sign-in since {identity.last_login_at:%Y-%m-%d}"

    def has_add_permission(self, request):
        return False  # tokens are created with `manage.py create_token` or the API, shown once


class JobLevelFilter(admin.SimpleListFilter):
    """Jobs as requested, or the chunk jobs a fanned-out job split into."""

    title = "level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [("jobs", "Jobs"), ("chunks", "Chunks")]

    def queryset(self, request, queryset):
        if self.value() == "jobs":
            return queryset.filter(parent__isnull=True)
        if self.value() == "chunks":
            return queryset.filter(parent__isnull=False)
        return queryset


class ChunkInline(admin.TabularInline):
    """A fanned-out job's chunks in order: who ran each, how often, how long. Read-only for everyone."""

    model = Job
    fk_name = "parent"
    fields = ("chunk_index", "status", "attempts", "worker", "started_at", "finished_at", "error")
    readonly_fields = fields
    ordering = ("chunk_index",)
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = "chunk"
    verbose_name_plural = "chunks"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(AuditorReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress", "chunk_count", "attempts", "worker", "created_at", "finished_at")
    list_filter = ("status", JobLevelFilter, "kind")
    search_fields = ("id", "kind", "object_id", "worker")
    readonly_fields = [f.name for f in Job._meta.fields]

    def get_inlines(self, request, obj):
        # Only a job that fanned out has chunks to list.
        return [ChunkInline] if obj is not None and obj.chunks_total else []

    @admin.display(description="chunks")
    def chunk_count(self, job):
        """Finished of total for a fanned-out job, the position for a chunk (from the row itself: no query)."""
        if job.parent_id is not None:
            return f"chunk {job.chunk_index}"
        return f"{job.chunks_done} of {job.chunks_total} done" if job.chunks_total else "—"


@admin.register(AuditEvent)
class AuditEventAdmin(AppendOnlyAdmin):
    list_display = ("id", "created_at", "actor_username", "source", "action", "object_type", "object_id", "model_name", "registered_model_id")
    list_filter = ("action", "source", "object_type")
    search_fields = ("actor_username", "action", "object_id", "object_repr", "model_name", "request_id")
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return audit_events_for(request.user)
