"""What readiness needs beyond "the process is up": is this process shutting down, and has
the database schema caught up with the migrations?

``migrations_pending()`` is also meant for error handlers: a query that fails because a table
or column is missing can then say "run flask db upgrade" instead of a bare 500/503.
"""

from __future__ import annotations

import contextlib
import functools
import threading

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from myproject.extensions import db

DATABASE_OK = "ok"
DATABASE_UNAVAILABLE = "unavailable"
MIGRATIONS_PENDING = "migrations pending"

# Set once per process by gunicorn.conf.py's SIGTERM handler, never cleared: a draining worker
# only ever exits.
_draining = threading.Event()


def start_draining() -> None:
    """Mark this process as shutting down: readiness answers 503 ``draining`` from now on."""
    _draining.set()


def is_draining() -> bool:
    return _draining.is_set()


@functools.cache
def _revisions(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """(heads, every known revision) of a migrations directory, read once per process."""
    script = ScriptDirectory(directory)
    heads = frozenset(script.get_heads())
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return heads, known


def _is_behind(applied: set[str], directory: str) -> bool:
    heads, known = _revisions(directory)
    if applied - known:
        # The database is newer than this code (a rolling deploy migrated it first): a
        # reviewed revision keeps the old code working, so this process is not behind.
        return False
    return applied != heads


def _rollback() -> None:
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()


def database_state() -> str:
    """``"ok"``, ``"migrations pending"`` or ``"unavailable"``, for the current app.

    One query when all is well. With ``CHECK_MIGRATIONS`` off (the test configuration) the
    schema is not looked at. Expects a usable session: roll back a failed one first.
    """
    if not current_app.config["CHECK_MIGRATIONS"]:
        try:
            db.session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            _rollback()
            return DATABASE_UNAVAILABLE
        return DATABASE_OK
    try:
        applied = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        # No alembic_version table (`flask db upgrade` never ran), or no database at all.
        _rollback()
        try:
            db.session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            _rollback()
            return DATABASE_UNAVAILABLE
        return MIGRATIONS_PENDING
    directory = current_app.extensions["migrate"].directory
    return MIGRATIONS_PENDING if _is_behind(applied, directory) else DATABASE_OK


def migrations_pending() -> bool:
    """True when the database answers but its schema is behind migrations/ (or was never
    migrated). False when it is up to date, unreachable, or ``CHECK_MIGRATIONS`` is off.

    Needs an app context and a usable session (roll back a failed one first); never raises
    for database errors.
    """
    return database_state() == MIGRATIONS_PENDING
