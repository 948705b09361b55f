"""Logging with the request id on every line; JSON lines in production."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

import click
from flask import Flask, g, has_request_context

from myproject.config.startup import startup_warnings


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
