"""What readiness needs beyond "the process is up": is this process shutting down, and has
the database schema caught up with the migrations?

``migrations_pending()`` is also meant for error handlers: a query that fails because a table
or column is missing can then say "run flask db upgrade" instead of a bare 500/503.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import glob
import os
import threading

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from myproject.extensions import db

DATABASE_OK = "ok"
DATABASE_UNAVAILABLE = "unavailable"
MIGRATIONS_PENDING = "migrations pending"
# Inside the package, so an installed wheel has them; absolute, so `flask db ...` works from any
# working directory. The top-level migrations/ of a checkout is a symlink to this folder.
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

# Set once per process by gunicorn.conf.py's SIGTERM handler, never cleared: a draining worker
# only ever exits.
_draining = threading.Event()


def start_draining() -> None:
    """Mark this process as shutting down: readiness answers 503 ``draining`` from now on."""
    _draining.set()


def is_draining() -> bool:
    return _draining.is_set()


@functools.cache
def revisions(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """(heads, every known revision) of a migrations directory, read once per process.

    Alembic's ``ScriptDirectory`` answers the same (a test holds them equal), but importing it
    loads alembic, mako and, where installed, pygments: about 8 MiB in every worker, for two
    module-level names per revision file. Those are read here with ``ast``, nothing executed.
    """
    parents: dict[str, tuple[str, ...]] = {}
    for path in glob.glob(os.path.join(directory, "versions", "*.py")):
        with open(path, encoding="utf-8") as source:
            names = _module_constants(source.read(), ("revision", "down_revision"))
        revision, down = names.get("revision"), names.get("down_revision")
        if isinstance(revision, str):
            parents[revision] = (
                tuple(down)
                if isinstance(down, list | tuple)
                else ((down,) if isinstance(down, str) else ())
            )
    referenced = {parent for downs in parents.values() for parent in downs}
    return frozenset(set(parents) - referenced), frozenset(parents)


def _module_constants(source: str, names: tuple[str, ...]) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id in names and value is not None:
            with contextlib.suppress(ValueError):
                found[target.id] = ast.literal_eval(value)
    return found


def _is_behind(applied: set[str], directory: str) -> bool:
    heads, known = revisions(directory)
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
    return MIGRATIONS_PENDING if _is_behind(applied, MIGRATIONS_DIR) else DATABASE_OK


def migrations_pending() -> bool:
    """True when the database answers but its schema is behind migrations/ (or was never
    migrated). False when it is up to date, unreachable, or ``CHECK_MIGRATIONS`` is off.

    Needs an app context and a usable session (roll back a failed one first); never raises
    for database errors.
    """
    return database_state() == MIGRATIONS_PENDING
