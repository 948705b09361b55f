"""Database connections: cheap health checks, autocommit reads, a statement timeout,
SQLite's pragmas.

Idle ping: SQLAlchemy's ``pool_pre_ping`` pings on every checkout, one extra round trip per
request. Under load a connection is checked out again within milliseconds and is known good,
so only connections idle for more than ``IDLE_PING_AFTER`` seconds are pinged (after an
outage or a quiet spell). A failed ping raises ``DisconnectionError``: the pool discards the
connection and checks out a fresh one, so the service recovers by itself when the database
returns (SQLAlchemy's documented "pessimistic disconnect handling" with a custom event).

Reads in autocommit: a GET never writes, yet psycopg would wrap its statements in a
``BEGIN`` ... ``ROLLBACK`` pair, two round trips of the three an item read costs. During
GET and HEAD requests the session binds to the engine with SQLAlchemy's
``isolation_level="AUTOCOMMIT"`` execution option (the pool resets the connection when it is
returned); each statement still sees a consistent snapshot, as under READ COMMITTED.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from flask import has_request_context, request
from flask_sqlalchemy.session import Session
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_PING_AFTER = 1.0
READ_METHODS = frozenset({"GET", "HEAD"})


class ReadAutocommitSession(Session):
    """Flask-SQLAlchemy's session, binding GET and HEAD requests to an autocommit engine."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        bind = super().get_bind(*args, **kwargs)
        if (
            isinstance(bind, Engine)
            and bind.dialect.name == "postgresql"
            and has_request_context()
            and request.method in READ_METHODS
        ):
            return _autocommit(bind)
        return bind


@functools.lru_cache(maxsize=32)
def _autocommit(engine: Engine) -> Engine:
    # One option engine per engine: the session keys its connections by bind.
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def configure_engine(engine: Engine, *, idle_ping: bool, statement_timeout: float = 0) -> None:
    """Install the connection hooks this engine needs (``idle_ping``: see the module doc;
    ``statement_timeout``: seconds, 0 for none, PostgreSQL only)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return
    if idle_ping:
        _install_idle_ping(engine)
    if statement_timeout and engine.dialect.name == "postgresql":
        _install_statement_timeout(engine, statement_timeout)


def _install_statement_timeout(engine: Engine, seconds: float) -> None:
    """Every connection starts with ``statement_timeout`` set, as a startup option of the
    connection itself (no extra round trip): PostgreSQL cancels a statement that runs longer,
    and the request answers 503 (``myproject.errors``)."""
    option = f"-c statement_timeout={max(1, round(seconds * 1000))}"

    def on_do_connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        existing = cparams.get("options")
        cparams["options"] = f"{existing} {option}" if existing else option

    event.listen(engine, "do_connect", on_do_connect)


def _install_idle_ping(engine: Engine) -> None:
    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < IDLE_PING_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("stale pooled connection") from exc

    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Enforce foreign keys (cascade deletes) and let SQLAlchemy, not pysqlite, run transactions
    # so that SAVEPOINTs behave (SQLAlchemy's documented pysqlite recipe). WAL: a reader (an
    # email job composing after a request) never holds up a writer (the next login), which in
    # the default rollback journal waited out the busy timeout and answered 503.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Outside GET/HEAD, take the write lock up front: a transaction that read first and
    # wrote later would fail at once ("database is locked", without waiting) whenever
    # another writer committed in between, which WAL reports rather than waits out.
    reading = has_request_context() and request.method in READ_METHODS
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
