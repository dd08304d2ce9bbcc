from rest_framework import permissions

from modelgate.core import roles

_ACTION_FOR_METHOD = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class RolePermission(permissions.BasePermission):
    """Role axis: the user must be authenticated and hold the model-level
    permission for the action (view/add/change/delete). Views may override
    ``required_perms`` per action (``{"approve": ["governance.approve_promotionrequest"]}``).

    Object visibility (team axis) is decided by ``restrict`` in the queryset, so
    objects outside the user's scope answer 404.
    """

    message = "You do not have permission to perform this action."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        perms = self.required_perms(request, view)
        if perms is None:
            return True
        if request.method not in permissions.SAFE_METHODS and roles.is_read_only(user):
            return False
        return all(user.has_perm(perm) for perm in perms)

    def required_perms(self, request, view):
        action = getattr(view, "action", None)
        explicit = getattr(view, "required_perms", {})
        if action in explicit:
            return explicit[action]
        if request.method in explicit:
            return explicit[request.method]
        queryset = getattr(view, "queryset", None)
        if queryset is None:
            return None
        model = queryset.model
        verb = _ACTION_FOR_METHOD.get(request.method, "change")
        return [f"{model._meta.app_label}.{verb}_{model._meta.model_name}"]
