"""Domain errors. Raise these (or ``abort``); ``errors.py`` turns them into problem JSON."""

from __future__ import annotations

from typing import Any


class APIException(Exception):
    status_code = 500
    title = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class BadRequest(APIException):
    status_code = 400
    title = "Bad Request"


class Unauthorized(APIException):
    status_code = 401
    title = "Unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="myproject"'})
        super().__init__(detail, **kwargs)


class Forbidden(APIException):
    status_code = 403
    title = "Forbidden"


class NotFound(APIException):
    status_code = 404
    title = "Not Found"


class Conflict(APIException):
    status_code = 409
    title = "Conflict"


class PreconditionFailed(APIException):
    status_code = 412
    title = "Precondition Failed"


class UnprocessableEntity(APIException):
    status_code = 422
    title = "Unprocessable Entity"


class TooManyRequests(APIException):
    status_code = 429
    title = "Too Many Requests"


class ServiceUnavailable(APIException):
    status_code = 503
    title = "Service Unavailable"
