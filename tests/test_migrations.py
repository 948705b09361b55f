"""Alembic migrations (migrations/): upgrade, no drift from the models, downgrade to base.

Each test runs on a fresh, empty database: a SQLite file always, and a throwaway PostgreSQL
database when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from myproject import create_app
from myproject.config import normalize_database_url
from myproject.extensions import db as _db
from tests.support import TempDatabase

CLOSED_PORT_DB = "postgresql+psycopg://postgres@127.0.0.1:1/nope"
MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")
TABLES = {
    "alembic_version",
    "users",
    "items",
    "login_sessions",
    "idempotency_keys",
    "password_resets",
    "outbox_emails",
    "email_verifications",
    "api_keys",
    "security_events",
}


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Alembic's env.py runs logging.fileConfig, which disables existing loggers and replaces
    the root handlers; undo that so later tests still see their log records."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    disabled = {
        name: logger.disabled
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, logger in manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.disabled = disabled.get(name, False)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    with TempDatabase(normalize_database_url(base)) as url:
        yield url


@pytest.fixture()
def fresh_app(empty_url: str) -> Iterator[Flask]:
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": empty_url})
    yield app
    with app.app_context():
        _db.engine.dispose()


def flask_db(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["db", *args, "--directory", MIGRATIONS])


def table_names(app: Flask) -> set[str]:
    with app.app_context():
        return set(sa.inspect(_db.engine).get_table_names())


def test_upgrade_creates_every_table(fresh_app):
    result = flask_db(fresh_app, "upgrade")

    assert result.exit_code == 0, result.output
    assert table_names(fresh_app) == TABLES


def test_upgraded_schema_matches_the_models(fresh_app):
    assert flask_db(fresh_app, "upgrade").exit_code == 0

    result = flask_db(fresh_app, "check")

    assert result.exit_code == 0, result.output


def test_check_detects_a_schema_behind_the_models(fresh_app):
    assert flask_db(fresh_app, "upgrade", "0001_initial").exit_code == 0

    result = flask_db(fresh_app, "check")

    assert result.exit_code != 0


def test_downgrade_to_base_leaves_only_alembic_version(fresh_app):
    assert flask_db(fresh_app, "upgrade").exit_code == 0

    result = flask_db(fresh_app, "downgrade", "base")

    assert result.exit_code == 0, result.output
    assert table_names(fresh_app) == {"alembic_version"}


def test_migrated_usernames_are_unique_ignoring_case(fresh_app):
    assert flask_db(fresh_app, "upgrade").exit_code == 0
    now = datetime.now(UTC)
    row = {"password_hash": "", "is_active": True, "is_admin": False}
    row |= {"created_at": now, "updated_at": now}

    with fresh_app.app_context(), _db.engine.connect() as conn:
        users = sa.Table("users", sa.MetaData(), autoload_with=conn)
        conn.execute(users.insert(), [row | {"username": "alice", "email": "a@example.com"}])
        conn.execute(users.insert(), [row | {"username": "bob", "email": "b@example.com"}])
        with pytest.raises(sa.exc.IntegrityError, match="uq_users_username_lower"):
            conn.execute(users.insert(), [row | {"username": "ALICE", "email": "c@example.com"}])


def test_upgrade_without_a_reachable_database_is_a_one_line_error():
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": CLOSED_PORT_DB})

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 1
    assert "cannot reach the database" in result.output
    assert "Traceback" not in result.output
