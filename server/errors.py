"""The service's errors: one hierarchy, each class carrying its HTTP status
and error code. `server/envelope.py` turns any of them into the response
envelope, in one place, for every route.

    ApiError                 500 internal_error
    ├── InvalidRequest       400 invalid_request (or a more specific code)
    ├── Unauthorized         401 unauthorized
    ├── Forbidden            403 forbidden
    ├── NotFound             404 not_found
    ├── MethodNotAllowed     405 method_not_allowed
    ├── Conflict             409 conflict
    │   └── InvalidTransition 409 invalid_transition (an instance's status)
    ├── PayloadTooLarge      413 payload_too_large
    ├── RateLimited          429 rate_limited      (Retry-After)
    ├── StorageFailed        502 storage_error
    └── Overloaded           503 overloaded        (Retry-After)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar


class ApiError(Exception):
    """An error answered to the client. `field` names the offending input
    when there is one; `extra` adds members to the error object."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    @property
    def cf_code(self) -> int:
        """The numeric code of Cloudflare's error shape (/client/v4)."""
        return 10000 + self.status

    def __init__(self, message: str, field: str | None = None, *, code: str | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.error_code = code or self.code
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.error_code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.extra)
        return body

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(ApiError):
    status = 400
    code = "invalid_request"
    title = "Invalid request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"
    title = "Not found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class Conflict(ApiError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class StorageFailed(ApiError):
    status = 502
    code = "storage_error"
    title = "Storage error"


class _RetryLater(ApiError):
    def __init__(self, message: str, retry_after: float, field: str | None = None) -> None:
        super().__init__(message, field)
        self.retry_after = max(1, math.ceil(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(_RetryLater):
    status = 429
    code = "rate_limited"
    title = "Rate limited"


class Overloaded(_RetryLater):
    status = 503
    code = "overloaded"
    title = "Overloaded"


class DatabaseUnavailable(_RetryLater):
    status = 503
    code = "database_unavailable"
    title = "Database unavailable"
