"""Configuration (myproject/config.py, create_app) and the health probes (myproject/health.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from myproject import create_app
from myproject.config import engine_options, load_config, normalize_database_url
from myproject.config.startup import startup_warnings
from myproject.extensions import db as _db
from myproject.models import User

GOOD_SECRET = "p9Xv2LqT7mZr4NsW8bYc1HdK6fJ3gQeA"  # 32 characters, not a known default
GOOD_JWT_SECRET = "Z8yX7wV6uT5sR4qP3oN2mL1kJ0iH9gFe"
CLOSED_PORT_DB = "postgresql+psycopg://postgres@127.0.0.1:1/nope"
# env_int("NAME", ...), os.environ.get("NAME"), DATABASE_URL_VARIABLE = "NAME", ...
VARIABLE_READ = re.compile(
    r"(?:env_(?:str|int|bool|list|networks|url|limit|choice|words)\(\s*|os\.environ\.get\(\s*"
    r"|_VARIABLE = |setdefault\(\s*)"
    r'"([A-Z][A-Z0-9_]*)"'
)
ENV_VARS = (
    "FLASK_CONFIG",
    "SECRET_KEY",
    "JWT_SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "MAX_CONTENT_LENGTH",
    "TRUSTED_PROXIES",
    "JWT_ACCESS_TOKEN_EXPIRES",
    "JWT_REFRESH_TOKEN_EXPIRES",
    "CACHE_DEFAULT_TIMEOUT",
    "RATELIMIT_ENABLED",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "SQLALCHEMY_ECHO",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No stray setting from the developer's shell; TEST_* (the lanes) are kept."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


pytestmark = pytest.mark.usefixtures("restore_logging")


def startup_refusal() -> str:
    """The one-line message production refuses to start with."""
    with pytest.raises(SystemExit) as excinfo:
        create_app("production")
    message = str(excinfo.value.code)
    assert message.startswith("Configuration error: ")
    return message


@pytest.fixture()
def production_env(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("JWT_SECRET_KEY", GOOD_JWT_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.internal:5432/app")


def app_for(url, **overrides):
    return create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, **overrides})


def dispose(app):
    with app.app_context():
        _db.engine.dispose()


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "is not set"),
        ("   ", "is not set"),
        ("x" * 31, "too short"),
        ("changeme", "too short"),
        ("dev-secret-key-change-me-not-for-production", "known default"),
        ("DEV-JWT-SECRET-KEY-CHANGE-ME-NOT-FOR-PRODUCTION", "known default"),
    ],
)
def test_production_refuses_unsafe_secret(production_env, monkeypatch, name, value, reason):
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)

    message = startup_refusal()

    assert name in message
    assert reason in message


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY"])
@pytest.mark.parametrize("value", ["a" * 40, "ab" * 20, "Zz9-" * 12])
def test_production_refuses_a_secret_of_a_few_repeated_characters(
    production_env, monkeypatch, name, value
):
    monkeypatch.setenv(name, value)

    message = startup_refusal()

    assert name in message
    assert "random" in message


def test_production_refuses_the_same_secret_for_both_keys(production_env, monkeypatch):
    monkeypatch.setenv("JWT_SECRET_KEY", GOOD_SECRET)

    with pytest.raises(SystemExit) as excinfo:
        create_app("production")

    message = str(excinfo.value.code)
    assert message.startswith("Configuration error: JWT_SECRET_KEY must differ from SECRET_KEY")


def test_production_accepts_a_random_hex_secret(production_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "9f86d081884c7d659a2feaa0c55ad015")

    assert load_config("production").SECRET_KEY == "9f86d081884c7d659a2feaa0c55ad015"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_production_requires_database_url(production_env, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("DATABASE_URL")
    else:
        monkeypatch.setenv("DATABASE_URL", value)

    with pytest.raises(SystemExit) as excinfo:
        create_app("production")

    assert "DATABASE_URL" in str(excinfo.value.code)


def test_valid_production_config_starts(production_env):
    app = create_app("production")

    assert app.config["ENV_NAME"] == "production"
    assert app.config["TESTING"] is False
    assert app.config["DEBUG"] is False
    assert app.config["SECRET_KEY"] == GOOD_SECRET
    assert app.config["JWT_SECRET_KEY"] == GOOD_JWT_SECRET
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db.internal:5432/app"
    assert app.config["LOG_FORMAT"] == "json"
    dispose(app)


@pytest.mark.parametrize(
    ("redis_url", "expected"), [(None, "NullCache"), ("redis://cache:6379/0", "RedisCache")]
)
def test_production_caches_only_in_redis(production_env, monkeypatch, redis_url, expected):
    # Private per-worker memory caches would disagree after a write.
    if redis_url:
        monkeypatch.setenv("REDIS_URL", redis_url)

    app = create_app("production")

    assert app.config["CACHE_TYPE"] == expected
    dispose(app)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///tmp/x.sqlite", "sqlite:///tmp/x.sqlite"),
    ],
)
def test_database_url_is_mapped_to_psycopg(monkeypatch, url, expected):
    monkeypatch.setenv("DATABASE_URL", url)

    app = create_app("development")

    assert normalize_database_url(url) == expected
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    dispose(app)


@pytest.mark.parametrize(
    ("flask_config", "expected"),
    [
        (None, "development"),
        ("development", "development"),
        ("testing", "testing"),
        (" Testing ", "testing"),
    ],
)
def test_flask_config_selects_the_configuration(monkeypatch, flask_config, expected):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    if flask_config is not None:
        monkeypatch.setenv("FLASK_CONFIG", flask_config)

    app = create_app()

    assert app.config["ENV_NAME"] == expected
    assert app.config["TESTING"] is (expected == "testing")


def test_flask_config_production_is_validated(monkeypatch):
    monkeypatch.setenv("FLASK_CONFIG", "production")

    with pytest.raises(SystemExit) as excinfo:
        create_app()

    assert "SECRET_KEY" in str(excinfo.value.code)


def test_explicit_config_name_wins_over_flask_config(monkeypatch):
    monkeypatch.setenv("FLASK_CONFIG", "production")

    app = create_app("testing")

    assert app.config["ENV_NAME"] == "testing"


@pytest.mark.parametrize("how", ["env", "argument"])
def test_unknown_config_name_exits(monkeypatch, how):
    if how == "env":
        monkeypatch.setenv("FLASK_CONFIG", "staging")

    with pytest.raises(SystemExit) as excinfo:
        create_app("staging" if how == "argument" else None)

    message = str(excinfo.value.code)
    assert "FLASK_CONFIG" in message
    assert "'staging'" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_CONTENT_LENGTH", "1MB"),
        ("MAX_CONTENT_LENGTH", "0"),
        ("JWT_ACCESS_TOKEN_EXPIRES", "15m"),
        ("JWT_REFRESH_TOKEN_EXPIRES", "0"),
        ("CACHE_DEFAULT_TIMEOUT", "1.5"),
        ("TRUSTED_PROXIES", "-1"),
        ("RATELIMIT_ENABLED", "maybe"),
    ],
)
def test_bad_setting_exits_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as excinfo:
        create_app("testing")

    message = str(excinfo.value.code)
    assert message.startswith("Configuration error: ")
    assert name in message
    assert value in message


def test_integer_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("JWT_ACCESS_TOKEN_EXPIRES", "60")
    monkeypatch.setenv("CACHE_DEFAULT_TIMEOUT", " 30 ")

    app = create_app("testing")

    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == 60
    assert app.config["CACHE_DEFAULT_TIMEOUT"] == 30


def test_two_apps_in_one_process_keep_separate_databases(tmp_path):
    first = app_for(f"sqlite:///{tmp_path}/a.db")
    second = app_for(f"sqlite:///{tmp_path}/b.db")
    for app in (first, second):
        with app.app_context():
            _db.create_all()

    with first.app_context():
        User.create(username="bob", email="bob@example.com")
    with second.app_context():
        assert _db.session.scalar(select(func.count()).select_from(User)) == 0
    with first.app_context():
        assert _db.session.scalar(select(func.count()).select_from(User)) == 1
    for app in (first, second):
        assert app.test_client().get("/health/ready").status_code == 200
        dispose(app)


def test_overriding_the_database_uri_gets_engine_options_that_fit_it(monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})

    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == engine_options("sqlite://")
    assert app.test_client().get("/health/ready").status_code == 200
    dispose(app)


def test_overridden_database_uri_is_mapped_to_psycopg():
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "postgres://u@h:5432/d"})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h:5432/d"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == engine_options("postgresql://u@h/d")
    dispose(app)


def test_health_answers_ok(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_checks_the_database(client, redis_url):
    response = client.get("/health/ready")

    assert response.status_code == 200
    redis = "ok" if redis_url else "not configured"
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": redis}}


def test_ready_says_when_redis_is_not_configured():
    app = app_for("sqlite://", REDIS_URL=None)

    response = app.test_client().get("/health/ready")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not configured"},
    }


def test_ready_is_503_when_the_database_is_unreachable():
    app = app_for(CLOSED_PORT_DB)

    response = app.test_client().get("/health/ready")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "unavailable"
    dispose(app)


def test_ready_is_degraded_when_redis_is_unreachable():
    app = app_for("sqlite://", REDIS_URL="redis://127.0.0.1:1/0")

    response = app.test_client().get("/health/ready")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "unavailable"},
    }


# What a server logs once at start (the gunicorn master, `flask run`: tests/test_startup.py
# runs both); here the rules themselves.
def local_counter_warnings(app):
    return [m for m in startup_warnings(app.config) if "REDIS_URL" in m]


def test_production_without_redis_warns_that_limits_are_per_worker(production_env):
    app = create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})

    warnings = local_counter_warnings(app)
    assert len(warnings) == 1
    assert "each worker process counts rate limits" in warnings[0]
    dispose(app)


@pytest.mark.parametrize(
    ("config_name", "env"),
    [
        ("production", {"REDIS_URL": "redis://cache:6379/0"}),
        ("production", {"RATELIMIT_ENABLED": "false"}),
        ("development", {}),
    ],
)
def test_no_per_worker_limits_warning_when_it_does_not_apply(
    production_env, monkeypatch, config_name, env
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    app = create_app(config_name, {"SQLALCHEMY_DATABASE_URI": "sqlite://"})

    assert local_counter_warnings(app) == []
    dispose(app)


def test_development_runs_with_debug():
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})

    assert app.debug is True
    dispose(app)


@pytest.fixture()
def dev_boom_app():
    """Development config (DEBUG on) with a route that fails and one that reads a missing key."""
    from flask import request

    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom-dev-secret")

    @app.get("/missing-key")
    def missing_key():
        return {"value": request.args["nope"]}

    yield app
    dispose(app)


def test_development_error_is_problem_json_without_traceback(dev_boom_app):
    response = dev_boom_app.test_client().get("/boom")

    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "kaboom-dev-secret" not in text
    assert response.get_json()["request_id"] == response.headers["X-Request-ID"]


def test_development_missing_query_key_is_400_as_in_production(dev_boom_app):
    response = dev_boom_app.test_client().get("/missing-key")

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("true", True), ("0", False)])
def test_sqlalchemy_echo_is_read_from_the_environment(monkeypatch, value, expected):
    if value is not None:
        monkeypatch.setenv("SQLALCHEMY_ECHO", value)

    app = create_app("testing")

    assert app.config["SQLALCHEMY_ECHO"] is expected
    dispose(app)


def test_env_example_lists_every_variable_the_settings_read():
    root = Path(__file__).resolve().parent.parent
    read = set()
    sources = [*(root / "myproject" / "config").glob("*.py"), root / "gunicorn.conf.py"]
    for source in sources:
        read |= set(VARIABLE_READ.findall(source.read_text()))
    example = (root / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))

    assert "DRAIN_SECONDS" in read
    assert read - listed == set()


def allowed_hosts_warnings(app):
    return [m for m in startup_warnings(app.config) if "ALLOWED_HOSTS" in m]


def test_production_without_allowed_hosts_warns(production_env):
    app = create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})

    assert len(allowed_hosts_warnings(app)) == 1
    dispose(app)


def test_production_with_allowed_hosts_does_not_warn(production_env, monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "api.example.com")

    app = create_app("production", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})

    assert allowed_hosts_warnings(app) == []
    assert app.config["TRUSTED_HOSTS"] == ["api.example.com"]
    dispose(app)
