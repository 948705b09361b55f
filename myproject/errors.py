"""Every error becomes RFC 9457 problem JSON here, and only here.

Domain code raises werkzeug exceptions through ``flask_smorest.abort(status, message=...,
errors=..., headers=...)``; the keyword arguments arrive here as the exception's ``data``.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from werkzeug.exceptions import HTTPException, InternalServerError

from myproject.extensions import db
from myproject.models.resource import resources
from myproject.readiness import migrations_pending

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
        "instance": request.path,
        "request_id": g.get("request_id"),
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body) + "\n", status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.app_errorhandler(HTTPException)
def handle_http_exception(error: HTTPException) -> Response:
    """Problem JSON for any werkzeug, flask-smorest or Flask-Limiter ``HTTPException``."""
    if isinstance(error, InternalServerError):
        return handle_internal_error(error)
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors")
    detail = data.get("message")
    if status == 422 and errors is None and "messages" in data:
        # webargs' validation error: the field messages arrive as ``messages``.
        errors, detail = data["messages"], None
    if status == 400 and "messages" in data:
        # webargs reports a body it could not decode as a 400 with messages; keep it minimal.
        detail = "The request body is not valid JSON."
    if detail is None:
        if status == 429:
            detail = (
                f"Rate limit exceeded ({error.description}); retry after the Retry-After delay."
            )
        elif status == 422 and errors:
            detail = "The request contains invalid fields."
        else:
            detail = error.description
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() not in {"content-type", "content-length"}
    }
    headers.update(data.get("headers") or {})
    return problem(status, detail, errors=errors, headers=headers)


@bp.app_errorhandler(IntegrityError)
def handle_integrity_error(error: IntegrityError) -> Response:
    # Services check uniqueness first; this is the race where two requests both passed.
    db.session.rollback()
    message = str(error.orig)
    for resource in resources():  # each declares its unique constraints and their fields
        for constraint, field in resource.unique.items():
            if constraint in message:
                return problem(409, f"That {field} is already taken.")
    log.warning("integrity error: %s", type(error.orig).__name__)
    return problem(409, "The request conflicts with the current state of the resource.")


@bp.app_errorhandler(DataError)
def handle_data_error(error: DataError) -> Response:
    db.session.rollback()
    log.warning("database rejected a value: %s", type(error.orig).__name__)
    return problem(422, "A value is out of range or malformed for storage.")


QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for statement_timeout (and cancels)


@bp.app_errorhandler(OperationalError)
@bp.app_errorhandler(InterfaceError)
def handle_database_unavailable(error: Exception) -> Response:
    try:
        db.session.rollback()
    except Exception:  # the connection is already gone; the pool replaces it
        pass
    if getattr(getattr(error, "orig", None), "sqlstate", None) == QUERY_CANCELED:
        log.warning("statement cancelled after DB_STATEMENT_TIMEOUT")
        return problem(
            503,
            "The request took longer than the database allows; retry shortly.",
            headers={"Retry-After": "5"},
        )
    if migrations_pending():  # a missing table looks like an outage to the driver
        return schema_behind()
    log.error("database unavailable: %s", type(error).__name__)
    return problem(
        503,
        "The database is unavailable; retry shortly.",
        headers={"Retry-After": "5"},
    )


@bp.app_errorhandler(ProgrammingError)
def handle_programming_error(error: ProgrammingError) -> Response:
    """PostgreSQL's undefined table or column: the schema is behind, or a bug (500)."""
    db.session.rollback()
    if migrations_pending():
        return schema_behind()
    return handle_internal_error(InternalServerError(original_exception=error))


def schema_behind() -> Response:
    log.error("database schema behind the code: migrations pending")
    return problem(
        503,
        "The database schema is behind the code: migrations pending (run flask db upgrade).",
        headers={"Retry-After": "30"},
    )


@bp.app_errorhandler(InternalServerError)
def handle_internal_error(error: InternalServerError) -> Response:
    original = getattr(error, "original_exception", None)
    if isinstance(original, OperationalError | InterfaceError):
        return handle_database_unavailable(original)
    if original is not None:
        current_app.logger.error(
            "unhandled exception on %s %s",
            request.method,
            request.path,
            exc_info=(type(original), original, original.__traceback__),
        )
    return problem(500, "An unexpected error occurred; quote the request_id when reporting it.")
