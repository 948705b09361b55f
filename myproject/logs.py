"""Logging with the request id on every line; JSON lines in production."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    # Re-creating an app (tests, two instances) replaces our handler instead of stacking one.
    for existing in list(root.handlers):
        if getattr(existing, "_myproject", False):
            root.removeHandler(existing)
    handler._myproject = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    app.logger.handlers.clear()
    app.logger.propagate = True


REQUEST_STATE = ("token_claims", "caller", "caller_session")


def assign_request_id() -> None:
    # An app context (and so ``g``) can outlive one request when a caller keeps it pushed;
    # per-request state must never leak into the next request.
    for name in REQUEST_STATE:
        g.pop(name, None)
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def add_response_headers(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.status_code in (204, 304) or (
        request.method == "OPTIONS" and not response.content_length
    ):
        response.headers.pop("Content-Type", None)
    if current_app.config["CORS_ORIGINS"]:
        # The CORS headers depend on Origin (flask-cors omits Vary for a single origin).
        response.vary.add("Origin")
    if response.status_code not in (429, 503):
        # Flask-Limiter adds Retry-After to every response; it only means something on these.
        response.headers.pop("Retry-After", None)
    if request.path.startswith("/api/docs"):
        # Swagger UI needs its own scripts and an inline bootstrap; everything else needs nothing.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
        )
    else:
        response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response
