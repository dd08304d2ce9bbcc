"""Base viewsets: every queryset passes through ``restrict`` before any lookup."""

from rest_framework import mixins, viewsets

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
