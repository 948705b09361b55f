"""Logging with the request id on every line; JSON lines in production. With tracing on
(myproject/tracing.py) every line also carries ``trace_id`` and ``span_id``."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import click
from flask import Flask, g, has_request_context

from myproject.config.startup import startup_warnings


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
TEXT_FORMAT_TRACED = (
    "%(asctime)s %(levelname)s [%(request_id)s] trace_id=%(trace_id)s span_id=%(span_id)s "
    "%(name)s: %(message)s"
)


class TraceIdFilter(logging.Filter):
    """Adds the current span's ids (``-`` outside any span); installed by tracing only."""

    def __init__(self, current_ids: Callable[[], tuple[str, str]]) -> None:
        super().__init__()
        self.current_ids = current_ids

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id, record.span_id = self.current_ids()
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
        if hasattr(record, "trace_id"):  # tracing on (TraceIdFilter)
            entry["trace_id"] = record.trace_id
            entry["span_id"] = getattr(record, "span_id", "-")
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
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


def add_trace_ids(current_ids: Callable[[], tuple[str, str]]) -> None:
    """Put the current trace and span ids on every line of the handler configure_logging made
    (JSON: ``trace_id`` and ``span_id`` keys; text: ``trace_id=... span_id=...``)."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_myproject", False):
            handler.addFilter(TraceIdFilter(current_ids))
            if not isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(logging.Formatter(TEXT_FORMAT_TRACED))


def log_startup_warnings(app: Flask) -> None:
    """Once per server start: the gunicorn master logs them itself (gunicorn.conf.py), and
    ``flask run`` here, in its first process only (not again in the reloader's child).
    Every other ``flask`` command is a tool, not a server: it stays quiet."""
    if not serving_with_flask_run():
        return
    for message in startup_warnings(app.config):
        app.logger.warning(message)


def serving_with_flask_run() -> bool:
    context = click.get_current_context(silent=True)
    if context is None or context.info_name != "run":
        return False
    return os.environ.get("WERKZEUG_RUN_MAIN") != "true"
