"""Configuration classes. Every setting comes from the environment, coerced explicitly.

This package imports nothing but the standard library: ``gunicorn.conf.py`` loads it by path
in the gunicorn master to refuse a bad configuration before forking, and the master must not
import the app (a ``HUP`` reload would keep serving the old code). Hence relative imports.
"""

from __future__ import annotations

import os

from .environment import (
    KNOWN_DEFAULT_SECRETS,
    MIN_DISTINCT_SECRET_CHARACTERS,
    MIN_SECRET_LENGTH,
    ConfigError,
    as_bool,
    check_production_secrets,
    engine_options,
    env_bool,
    env_int,
    env_list,
    env_networks,
    env_str,
    normalize_database_url,
    redis_options,
)
from .jobs import JobsAndEmailSettings
from .values import DATABASE_SCHEMES, REDIS_SCHEMES, env_choice, env_limit, env_url, env_words

__all__ = [
    "KNOWN_DEFAULT_SECRETS",
    "MIN_DISTINCT_SECRET_CHARACTERS",
    "MIN_SECRET_LENGTH",
    "CONFIGS",
    "Config",
    "ConfigError",
    "DevelopmentConfig",
    "ProductionConfig",
    "TestingConfig",
    "as_bool",
    "engine_options",
    "env_bool",
    "env_int",
    "env_list",
    "env_networks",
    "env_str",
    "instance_path",
    "load_config",
    "normalize_database_url",
    "redis_options",
]


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Config(JobsAndEmailSettings):
    """Settings shared by every environment; subclasses change defaults, not names."""

    ENV_NAME = "base"
    TESTING = False
    DEBUG = False
    # Readiness (and myproject.readiness.migrations_pending) compare the database's
    # alembic_version with the head of migrations/.
    CHECK_MIGRATIONS = True
    # Where the service URLs come from (the test lanes read their own variables).
    DATABASE_URL_VARIABLE = "DATABASE_URL"
    REDIS_URL_VARIABLE = "REDIS_URL"

    def __init__(self) -> None:
        self.SECRET_KEY = env_str("SECRET_KEY", "dev-secret-key-change-me-not-for-production")
        self.JWT_SECRET_KEY = env_str(
            "JWT_SECRET_KEY", "dev-jwt-secret-key-change-me-not-for-production"
        )
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(
            env_url(self.DATABASE_URL_VARIABLE, self.default_database_url(), DATABASE_SCHEMES)
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False
        self.SQLALCHEMY_ECHO = env_bool("SQLALCHEMY_ECHO", False)
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024, minimum=1)
        # gunicorn's worker timeout (gunicorn.conf.py reads the same variable): a request
        # still unanswered after it is dead, and its Idempotency-Key reservation abandoned.
        self.REQUEST_TIMEOUT = env_int("REQUEST_TIMEOUT", 30, minimum=1)
        # PostgreSQL's statement_timeout for every connection (0: none); a cancelled
        # statement answers 503 (myproject.dbpool, myproject.errors).
        self.DB_STATEMENT_TIMEOUT = env_int("DB_STATEMENT_TIMEOUT", 5)

        self.REDIS_URL: str | None = env_url(self.REDIS_URL_VARIABLE, "", REDIS_SCHEMES) or None
        # Several deployments (or test runs) may share one Redis database: each keeps its
        # cache, rate-limit counters and Socket.IO channel under its own prefix.
        self.REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "myproject")

        # JWT (Flask-JWT-Extended): HS256 only, tokens in the Authorization header by default.
        self.JWT_ALGORITHM = "HS256"
        self.JWT_DECODE_ALGORITHMS = ["HS256"]
        self.JWT_ACCESS_TOKEN_EXPIRES = env_int("JWT_ACCESS_TOKEN_EXPIRES", 900, minimum=1)
        self.JWT_REFRESH_TOKEN_EXPIRES = env_int("JWT_REFRESH_TOKEN_EXPIRES", 2592000, minimum=1)
        self.JWT_TOKEN_LOCATION = env_words("JWT_TOKEN_LOCATION", "headers", ("headers", "cookies"))
        self.JWT_COOKIE_SECURE = env_bool("JWT_COOKIE_SECURE", True)
        self.JWT_COOKIE_CSRF_PROTECT = True
        self.JWT_COOKIE_SAMESITE = "Lax"
        # The refresh token cookie travels only to the refresh endpoint. Its CSRF value is no
        # secret: it exists for the page's script to read and echo in X-CSRF-TOKEN, and a page
        # reads only cookies whose path covers its own URL, so it stays at "/".
        self.JWT_REFRESH_COOKIE_PATH = "/auth/token/refresh"
        self.JWT_REFRESH_CSRF_COOKIE_PATH = "/"
        self.PASSWORD_HASH_METHOD = env_str("PASSWORD_HASH_METHOD", "scrypt:32768:8:1")

        # Rate limits. The environment's RATELIMIT_DEFAULT (signed-in callers) is kept under
        # another config key: Flask-Limiter would read RATELIMIT_DEFAULT as an extra
        # per-route limit of its own.
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_SIGNED_IN = env_limit("RATELIMIT_DEFAULT", "300 per minute")
        self.RATELIMIT_ANONYMOUS = env_limit("RATELIMIT_ANONYMOUS", "60 per minute")
        self.RATELIMIT_LOGIN = env_limit("RATELIMIT_LOGIN", "10 per minute")
        self.RATELIMIT_REGISTER = env_limit("RATELIMIT_REGISTER", "10 per hour")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_STORAGE_OPTIONS = redis_options() if self.REDIS_URL else {}
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_KEY_PREFIX = f"{self.REDIS_KEY_PREFIX}-rl"
        # Premium users' limit (ratelimit.default_limit); who may read /metrics (metrics.py).
        self.RATELIMIT_PREMIUM = env_limit("RATELIMIT_PREMIUM", "1000 per minute")
        self.METRICS_ALLOW = env_networks("METRICS_ALLOW", "127.0.0.1,::1")

        # Cache (Flask-Caching): Redis when configured, else this process's memory.
        self.CACHE_DEFAULT_TIMEOUT = env_int("CACHE_DEFAULT_TIMEOUT", 60)
        self.CACHE_KEY_PREFIX = f"{self.REDIS_KEY_PREFIX}:"
        if self.REDIS_URL:
            self.CACHE_TYPE = "RedisCache"
            self.CACHE_REDIS_URL = self.REDIS_URL
            self.CACHE_OPTIONS = redis_options()
        else:
            self.CACHE_TYPE = self.default_local_cache()

        # Socket.IO fan-out to every worker and instance (myproject.realtime); unset: in-process.
        self.SOCKETIO_MESSAGE_QUEUE = (
            env_url("SOCKETIO_MESSAGE_QUEUE", "", REDIS_SCHEMES) or self.REDIS_URL
        )
        # What one client may cost Socket.IO (myproject/realtime/quotas.py, docs/realtime.md).
        self.SOCKETIO_EVENT_LIMIT = env_limit("SOCKETIO_EVENT_LIMIT", "20 per 10 seconds")
        self.SOCKETIO_MAX_PER_ADDRESS = env_int("SOCKETIO_MAX_PER_ADDRESS", 20, minimum=1)
        # Strict-Transport-Security on HTTPS answers (myproject/hooks.py); 0 turns it off.
        self.HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000)
        self.CORS_ORIGINS = env_list("CORS_ORIGINS")
        self.TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
        # Flask's TRUSTED_HOSTS does the checking: another Host is a 400 (unset: any host).
        self.TRUSTED_HOSTS = env_list("ALLOWED_HOSTS") or None

        self.LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", LOG_LEVELS)
        self.LOG_FORMAT = env_choice("LOG_FORMAT", self.default_log_format(), ("text", "json"))
        # OpenTelemetry tracing (myproject/tracing.py), on only with an OTLP/HTTP endpoint.
        self.OTEL_EXPORTER_OTLP_ENDPOINT = otlp_endpoint()
        self.OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME", "myproject")

        # OpenAPI document and offline Swagger UI (flask-smorest).
        self.API_TITLE = "myproject"
        self.API_VERSION = "1.0.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        self.OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"

        self.load_jobs_and_email_settings()

    def default_database_url(self) -> str:
        return "sqlite:///" + os.path.join(instance_path(), "myproject.sqlite")

    def default_log_format(self) -> str:
        return "text"

    def default_local_cache(self) -> str:
        # One process (flask run) can cache in memory; see ProductionConfig.
        return "SimpleCache"

    def validate(self) -> None:
        """Raise ConfigError for settings this environment cannot run with."""


def otlp_endpoint() -> str | None:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` (the collector's base URL: spans go to ``/v1/traces``
    under it, as OpenTelemetry's exporters do), or None: tracing off."""
    value = env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not value:
        return None
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest or rest.startswith("/"):
        raise ConfigError(
            "OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL "
            f"(an OTLP/HTTP collector, e.g. http://127.0.0.1:4318), got {value!r}"
        )
    return value.rstrip("/")


def instance_path() -> str:
    package = os.path.dirname(os.path.abspath(__file__))  # myproject/config/
    return os.path.join(os.path.dirname(os.path.dirname(package)), "instance")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    # Safe: `make run` binds 127.0.0.1. Flask would then re-raise unhandled exceptions (to the
    # server's HTML error page or debugger) and turn a missing form key into a 500; the API
    # keeps answering problem JSON exactly as in production, and errors.py logs the traceback.
    DEBUG = True
    PROPAGATE_EXCEPTIONS = False
    TRAP_BAD_REQUEST_ERRORS = False


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    # The suite builds its schema with db.create_all(), which Alembic never stamps; the tests
    # of the migrations check turn it on for their own app.
    CHECK_MIGRATIONS = False
    # Only TEST_* variables steer the test lanes, so a developer's DATABASE_URL is never used.
    DATABASE_URL_VARIABLE = "TEST_DATABASE_URL"
    REDIS_URL_VARIABLE = "TEST_REDIS_URL"

    def default_database_url(self) -> str:
        return "sqlite://"

    def default_broker_url(self) -> str | None:
        # Jobs run in the test process (Flask-Mail records the emails); the worker tests set
        # CELERY_BROKER_URL themselves.
        return None

    def __init__(self) -> None:
        super().__init__()
        self.MAIL_SERVER = None
        self.RATELIMIT_ENABLED = False
        # A cheap hash keeps the suite fast; production keeps scrypt.
        self.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
        self.JWT_COOKIE_SECURE = False
        self.SOCKETIO_MESSAGE_QUEUE = None  # Flask-SocketIO's test client refuses a queue
        self.OTEL_EXPORTER_OTLP_ENDPOINT = None  # tests that trace pass their receiver's URL


class ProductionConfig(Config):
    ENV_NAME = "production"

    def default_database_url(self) -> str:
        return ""

    def default_log_format(self) -> str:
        return "json"

    def default_local_cache(self) -> str:
        # Several workers with private memory caches would disagree after a write: without
        # Redis, production does not cache at all.
        return "NullCache"

    def validate(self) -> None:
        check_production_secrets()
        if not os.environ.get("DATABASE_URL", "").strip():
            raise ConfigError("DATABASE_URL is not set; production needs a database URL.")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """Build the configuration named by ``name``, else ``FLASK_CONFIG``, else development."""
    config_name = (name or os.environ.get("FLASK_CONFIG") or "development").strip().lower()
    try:
        config_class = CONFIGS[config_name]
    except KeyError:
        choices = ", ".join(CONFIGS)
        raise ConfigError(f"FLASK_CONFIG must be one of {choices}, got {config_name!r}") from None
    config = config_class()
    config.validate()
    return config
