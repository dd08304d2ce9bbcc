from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class CursorPagination(pagination.CursorPagination):
    """Opaque cursors over an ordered queryset; page size capped so nobody asks for 200,000 rows."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-id"

    def paginate_queryset(self, queryset, request, view=None):
        if not queryset.ordered and not getattr(view, "ordering", None):
            raise RuntimeError(f"{view.__class__.__name__} paginates an unordered queryset")
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({"limit": ["Must be an integer."]}) from None
        if size < 1:
            raise ValidationError({"limit": ["Must be at least 1."]})
        return min(size, self.max_page_size)
