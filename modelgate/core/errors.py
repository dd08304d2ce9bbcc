"""Domain errors. Services raise these; the API exception handler turns each
into the one error envelope ``{"error": {"code", "message", "fields"}}``."""


class ApplicationError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.fields = fields or {}


class ConflictError(ApplicationError):
    """The request is valid but contradicts the object's state (immutability, illegal transition)."""

    status_code = 409
    code = "conflict"


class NotFoundError(ApplicationError):
    status_code = 404
    code = "not_found"


class PermissionDeniedError(ApplicationError):
    status_code = 403
    code = "permission_denied"


class PayloadTooLargeError(ApplicationError):
    status_code = 413
    code = "too_large"
