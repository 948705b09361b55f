"""myproject: a Flask JSON REST API. ``create_app`` builds a configured application."""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask, Request, current_app, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix

from myproject import extensions as ext
from myproject.config import ConfigError, engine_options, load_config, normalize_database_url
from myproject.dbpool import install_pool_hooks
from myproject.extensions import cache, cors, db, jwt, limiter, ma, migrate
from myproject.logs import add_response_headers, assign_request_id, configure_logging

# Absolute, so `flask db ...` works from any working directory.
MIGRATIONS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations"
)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
]
CORS_EXPOSE_HEADERS = [
    "Link",
    "X-Total-Count",
    "ETag",
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app for ``config_name`` (else ``FLASK_CONFIG``, else development).

    ``overrides`` replaces individual settings (tests, embedding). Raises SystemExit with a
    one-line message when the configuration is unusable.
    """
    try:
        config = load_config(config_name)
    except ConfigError as exc:
        raise SystemExit(f"Configuration error: {exc}") from None

    app = Flask(__name__, static_folder=None)
    app.config.from_object(config)
    app.config.update(overrides or {})
    if overrides and "SQLALCHEMY_DATABASE_URI" in overrides:
        url = normalize_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
        app.config["SQLALCHEMY_DATABASE_URI"] = url
        if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides:
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    configure_logging(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        from myproject.config import instance_path

        os.makedirs(instance_path(), exist_ok=True)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

    # Request hooks first: the request id exists before any extension's hook can fail, and
    # our after_request runs last (Flask runs them in reverse order of registration).
    register_request_hooks(app)
    init_extensions(app)
    register_blueprints(app)
    register_cli(app)
    app.shell_context_processor(shell_context)
    # A JSON API with bearer tokens keeps no cookie session: skip opening and saving one on
    # every request (flask.session stays usable as an always-empty null session).
    app.session_interface = NoCookieSession()
    return app


class NoCookieSession(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> None:
        return None


def init_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_on_connect)
            event.listen(db.engine, "begin", _sqlite_on_begin)
        elif not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"):
            install_pool_hooks(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, compare_type=True, render_as_batch=True)
    ma.init_app(app)
    jwt.init_app(app)
    cache.init_app(app)
    limiter.init_app(app)
    cors.init_app(
        app,
        origins=app.config["CORS_ORIGINS"],
        methods=CORS_METHODS,
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        supports_credentials="cookies" in app.config["JWT_TOKEN_LOCATION"],
        max_age=600,
        always_send=False,
        vary_header=True,
    )
    ext.api.init_app(app)
    ext.api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Enforce foreign keys (cascade deletes) and let SQLAlchemy, not pysqlite, run transactions
    # so that SAVEPOINTs behave (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def check_request_body() -> None:
    """Reject a body before any view or extension reads it.

    415 when it is not JSON; 413 when a chunked body reaches MAX_CONTENT_LENGTH (werkzeug
    would silently cut it there); 400 when it does not parse, including JSON nested too
    deeply for the parser (a RecursionError must not become a 500).
    """
    if request.method not in BODY_METHODS:
        return
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not (request.content_length or chunked):
        return
    if not request.is_json:
        raise UnsupportedMediaType("Send the request body as application/json.")
    data = request.get_data(cache=True)
    if chunked and len(data) >= (current_app.config["MAX_CONTENT_LENGTH"] or len(data) + 1):
        raise RequestEntityTooLarge()
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None


def register_request_hooks(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.before_request(check_request_body)
    app.after_request(add_response_headers)


def register_blueprints(app: Flask) -> None:
    from myproject import errors, health
    from myproject.api import docs, items, users
    from myproject.auth import routes as auth_routes

    # Problem-JSON error handlers for the whole app.
    app.register_blueprint(errors.bp)
    # Operations: liveness and readiness probes (no rate limit).
    ext.api.register_blueprint(health.blp)
    # Authentication: tokens, refresh rotation, logout.
    ext.api.register_blueprint(auth_routes.blp)
    # The REST resources.
    ext.api.register_blueprint(users.blp)
    ext.api.register_blueprint(items.blp)
    # Offline Swagger UI assets.
    app.register_blueprint(docs.bp)


def register_cli(app: Flask) -> None:
    from myproject.cli import create_user_command, seed_command

    app.cli.add_command(create_user_command)
    app.cli.add_command(seed_command)


def shell_context() -> dict[str, Any]:
    from myproject.models import Item, LoginSession, User

    return {"db": db, "User": User, "Item": Item, "LoginSession": LoginSession}
