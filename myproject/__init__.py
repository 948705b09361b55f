"""myproject: a Flask JSON REST API. ``create_app`` builds a configured application."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

import myproject.redis_import  # noqa: F401  # first: see its docstring
from myproject import caching, events, hooks, jobs, metrics, realtime
from myproject import extensions as ext  # not `api`: the myproject.api package takes that name
from myproject.config import (
    ConfigError,
    engine_options,
    instance_path,
    load_config,
    normalize_database_url,
)
from myproject.dbpool import configure_engine
from myproject.extensions import cache, db, jwt, limiter, ma, mail
from myproject.logs import configure_logging, log_startup_warnings


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app for ``config_name`` (else ``FLASK_CONFIG``, else development).

    ``overrides`` replaces individual settings (tests, embedding). Raises SystemExit with a
    one-line message when the configuration is unusable.
    """
    app = Flask(__name__, static_folder=None)
    configure(app, config_name, overrides)
    configure_logging(app)
    log_startup_warnings(app)
    hooks.init_app(app)  # first: see hooks.init_app
    init_extensions(app)
    if app.config["OTEL_EXPORTER_OTLP_ENDPOINT"]:  # else nothing of OpenTelemetry is imported
        from myproject import tracing

        tracing.init_app(app)  # before Socket.IO wraps wsgi_app: see tracing.init_app
    metrics.init_app(app)
    events.subscribe(app, caching.invalidate_after_change)
    # Socket.IO at /socket.io/ and resource events after each commit. Bound per app rather than
    # kept in extensions.py: Flask-SocketIO holds one server per SocketIO object.
    realtime.init_app(app)
    hooks.trust_proxies(app)  # outermost: around Socket.IO's middleware too
    register_blueprints(app)
    register_cli(app)
    app.shell_context_processor(shell_context)
    return app


def configure(app: Flask, config_name: str | None, overrides: dict[str, Any] | None) -> None:
    try:
        app.config.from_object(load_config(config_name))
    except ConfigError as exc:
        raise SystemExit(f"Configuration error: {exc}") from None
    app.config.update(overrides or {})
    if overrides and "SQLALCHEMY_DATABASE_URI" in overrides:
        url = normalize_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
        app.config["SQLALCHEMY_DATABASE_URI"] = url
        if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides:
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(instance_path(), exist_ok=True)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Compact in every environment (Flask indents in debug mode): development answers the
    # same bytes as production, each JSON body ending in one newline.
    app.json.compact = True  # type: ignore[attr-defined]


def init_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        idle_ping = not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping")
        configure_engine(
            db.engine, idle_ping=idle_ping, statement_timeout=app.config["DB_STATEMENT_TIMEOUT"]
        )
    ma.init_app(app)
    jwt.init_app(app)
    cache.init_app(app)
    limiter.init_app(app)
    hooks.init_cors(app)
    ext.api.init_app(app)
    mail.init_app(app)
    jobs.init_app(app)  # Celery, or jobs in this process without a broker


def register_blueprints(app: Flask) -> None:
    from myproject import errors, health
    from myproject.api import docs, items, security_events, users
    from myproject.auth import devices, keys, password_reset, verify_email
    from myproject.auth import routes as auth_routes

    # Problem-JSON error handlers for the whole app (registered after api.init_app, so they
    # replace flask-smorest's own HTTPException handler).
    app.register_blueprint(errors.bp)
    # Operations: liveness and readiness probes (no rate limit).
    ext.api.register_blueprint(health.blp)
    # Authentication: tokens, refresh rotation, logout.
    ext.api.register_blueprint(auth_routes.blp)
    # Password reset by email (tokens mailed by a background job).
    ext.api.register_blueprint(password_reset.blp)
    # Email verification (the link in the welcome email and after an email change).
    ext.api.register_blueprint(verify_email.blp)
    # The caller's logins and personal access tokens (keys: every API route checks its scope).
    ext.api.register_blueprint(devices.blp)
    ext.api.register_blueprint(keys.blp)
    # The REST resources.
    ext.api.register_blueprint(users.blp)
    ext.api.register_blueprint(items.blp)
    # The security event log (and the origin of each request, which its events carry).
    ext.api.register_blueprint(security_events.blp)
    # Offline Swagger UI assets.
    app.register_blueprint(docs.bp)
    # Operations: Prometheus metrics (a plain Flask blueprint: not in the OpenAPI document).
    app.register_blueprint(metrics.bp)


def register_cli(app: Flask) -> None:
    from myproject.cli import MigrateCommands, create_user_command, outbox_command, seed_command

    app.cli.add_command(MigrateCommands())
    app.cli.add_command(create_user_command)
    app.cli.add_command(seed_command)
    app.cli.add_command(outbox_command)


def shell_context() -> dict[str, Any]:
    from myproject.models import Item, LoginSession, User

    return {"db": db, "User": User, "Item": Item, "LoginSession": LoginSession}
