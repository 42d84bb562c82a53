"""Errors the services raise with the reason a person needs.

The API turns them into `{"error": ..., "detail": ...}` with their status.
"""


class HubError(Exception):
    status_code = 400
    error = "invalid request"

    def __init__(self, message: str | None = None, detail=None):
        self.message = message or self.error
        self.detail = detail
        super().__init__(self.message)


class InvalidInput(HubError):
    status_code = 400
    error = "invalid request"


class PayloadTooLarge(HubError):
    status_code = 413
    error = "payload too large"


class Conflict(HubError):
    status_code = 409
    error = "conflict"


class NotFound(HubError):
    status_code = 404
    error = "not found"


class Forbidden(HubError):
    status_code = 403
    error = "forbidden"
