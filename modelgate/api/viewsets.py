"""Base viewsets: every queryset passes through ``restrict`` before any lookup."""

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound

from modelgate.core.converters import parse_id
from modelgate.core.permissions import restrict

_ACTION_FOR_METHOD = {"GET": "view", "HEAD": "view", "OPTIONS": "view"}


class RestrictedViewSetMixin:
    """Restricts ``self.queryset`` to the rows the user may act on.

    Reads restrict on ``view``; writes on ``change`` (or the view's
    ``object_action``) so another team's objects answer 404 and nothing leaks.
    """

    object_actions: dict[str, str] = {}

    def get_restrict_action(self) -> str:
        if self.action in self.object_actions:
            return self.object_actions[self.action]
        return _ACTION_FOR_METHOD.get(self.request.method, "change")

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, self.get_restrict_action())

    def get_object(self):
        """The router's lookup (``[^/.]+`` unless the viewset says otherwise) bounded like
        ``<id:…>`` routes: an integer key beyond 64 bits, negative or not a number names
        no row, so it is a 404 before any query (SQLite cannot even bind it: a 500)."""
        model = (self.queryset if self.queryset is not None else self.get_queryset()).model
        try:
            field = model._meta.pk if self.lookup_field == "pk" else model._meta.get_field(self.lookup_field)
        except FieldDoesNotExist:  # a lookup across a relation: left to the query
            field = None
        value = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if value is not None and isinstance(getattr(field, "target_field", field), models.IntegerField):
            try:
                parse_id(str(value))
            except ValueError:
                raise NotFound() from None
        return super().get_object()


class ReadOnlyRestrictedViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class RestrictedModelViewSet(
    RestrictedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """List/retrieve with restriction; writes are explicit actions calling services."""


class ViewScopedLookupMixin(RestrictedViewSetMixin):
    """Look objects up with "view" whatever the method: writes go through services,
    which lock the row and check the team themselves; outside the user's scope the
    lookup is a 404, so nothing leaks."""

    def get_restrict_action(self) -> str:
        return "view"


def parse_input(serializer_class, request, **kwargs) -> dict:
    """Validate ``request.data`` with an input serializer; a 400 naming the fields otherwise."""
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
