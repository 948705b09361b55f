"""OpenAPI helpers: the problem-JSON error answers and headers each operation documents."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from flask_smorest import Blueprint

F = TypeVar("F", bound=Callable[..., Any])

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
STRING = {"schema": {"type": "string"}}
LIST_HEADERS = {
    "X-Total-Count": {"description": "Number of matching rows", "schema": {"type": "integer"}},
    "Link": {"description": "RFC 8288 links: first, last, prev, next", **STRING},
}
ETAG_HEADER = {"ETag": {"description": "Strong validator of the item", **STRING}}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retry safely: the same key and body within 24 h replays the first answer.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "Apply the write only if the item's current ETag matches (else 412).",
    "schema": {"type": "string"},
}
# Every operation can answer these (request id, rate limit, database outage).
COMMON_ERRORS = (429, 503)
BODY_ERRORS = (400, 413, 415, 422)


def errors(
    blp: Blueprint,
    *statuses: int,
    auth: bool = False,
    body: bool = False,
    parameters: list[dict[str, Any]] | None = None,
) -> Callable[[F], F]:
    """Document an operation's error answers (problem JSON), bearer auth and extra headers."""
    codes = set(statuses) | set(COMMON_ERRORS)
    if auth:
        codes.add(401)
    if body:
        codes.update(BODY_ERRORS)

    def decorator(view: F) -> F:
        for code in sorted(codes):
            view = blp.alt_response(code, response=HTTPStatus(code).name)(view)
        extra: dict[str, Any] = {}
        if auth:
            extra["security"] = BEARER
        if parameters:
            extra["parameters"] = parameters
        return blp.doc(**extra)(view) if extra else view

    return decorator
