"""Connection-pool hygiene: ping a pooled connection only when it has been idle.

SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one extra round trip per request.
Under load a connection is checked out again within milliseconds and is known good, so we
ping only connections idle for more than ``IDLE_PING_AFTER`` seconds (after an outage, or a
quiet spell). A failed ping raises ``DisconnectionError``: the pool discards the connection
and checks out a fresh one, so the service recovers by itself when the database returns.
(SQLAlchemy's documented "pessimistic disconnect handling" with a custom event.)
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_PING_AFTER = 1.0


def install_idle_ping(engine: Engine) -> None:
    def on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < IDLE_PING_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("stale pooled connection") from exc

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "checkout", on_checkout)
