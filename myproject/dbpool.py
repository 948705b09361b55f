"""Connection-pool hygiene for PostgreSQL: cheap health checks and read-only autocommit.

Idle ping: SQLAlchemy's ``pool_pre_ping`` pings on every checkout, one extra round trip per
request. Under load a connection is checked out again within milliseconds and is known good,
so only connections idle for more than ``IDLE_PING_AFTER`` seconds are pinged (after an
outage or a quiet spell). A failed ping raises ``DisconnectionError``: the pool discards the
connection and checks out a fresh one, so the service recovers by itself when the database
returns (SQLAlchemy's documented "pessimistic disconnect handling" with a custom event).

Reads in autocommit: a GET never writes, yet psycopg would wrap its statements in a
``BEGIN`` ... ``ROLLBACK`` pair, two round trips of the three an item read costs. During
GET and HEAD requests the driver connection runs in autocommit; each statement still sees a
consistent snapshot (READ COMMITTED gives every statement its own snapshot anyway).
"""

from __future__ import annotations

import time
from typing import Any

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_PING_AFTER = 1.0
READ_METHODS = frozenset({"GET", "HEAD"})


def install_pool_hooks(engine: Engine) -> None:
    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if has_request_context() and request.method in READ_METHODS:
            dbapi_connection.autocommit = True
            record.info["autocommit"] = True
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < IDLE_PING_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("stale pooled connection") from exc

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()
        if record.info.pop("autocommit", False) and dbapi_connection is not None:
            try:
                dbapi_connection.autocommit = False
            except Exception:  # a broken connection: the pool discards it anyway
                record.invalidate()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)
