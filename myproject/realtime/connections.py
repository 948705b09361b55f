"""Socket.IO connections: who may connect, and disconnecting logins that ended.

A client connects with ``auth={"token": <access token>}``; a token the HTTP API would answer
401 refuses the connection. A login that ends (logout, password change, deactivation,
deletion) is noticed by each process's login check, which disconnects that login's sockets
every ``LOGIN_CHECK_SECONDS``. Polling the database was chosen over a revocation message:
revocations are bulk UPDATEs in several places (and more to come), and one indexed query per
process every two seconds sees all of them, on every instance, without each revoking code
path having to remember to notify.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_socketio import SocketIO
from jwt import PyJWTError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from myproject.auth.sessions import load_caller
from myproject.extensions import db
from myproject.models import LoginSession, User
from myproject.realtime import quotas

log = logging.getLogger(__name__)

# How often each process checks its sockets' logins; an ended login loses its sockets within
# this (plus one query), well inside the 5 s the contract allows.
LOGIN_CHECK_SECONDS = 2.0
# Query parameters a token might be smuggled in: refused, since URLs end up in access logs.
QUERY_TOKEN_NAMES = ("token", "access_token", "jwt", "auth")
STATE = "myproject_realtime"
# How long a refused connection stays open for its refusal to be sent.
CLOSE_DELAY = 0.05


@dataclass
class Sockets:
    """This process's connected sockets: Socket.IO sid -> (login session id, user id)."""

    logins: dict[str, tuple[int, int]] = field(default_factory=dict)
    checker_pid: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def on_connect(auth: Any = None) -> None:
    """Accept a valid access token of a live login, from the auth payload only, while the
    client's address has a free place (``quotas``). A refused connection is closed at once."""
    sid: str = request.sid  # type: ignore[attr-defined]
    try:
        claims = _admitted(sid, auth)
    except ConnectionRefusedError:
        close_soon(sid)
        raise
    sockets: Sockets = current_app.extensions[STATE]
    with sockets.lock:
        sockets.logins[sid] = (int(claims["sid"]), int(claims["sub"]))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _start_login_check(app, sockets)
    quotas.start_renewing(app, quotas.quotas())


def _admitted(sid: str, auth: Any) -> dict[str, Any]:
    if any(name in request.args for name in QUERY_TOKEN_NAMES):
        raise ConnectionRefusedError(
            "Tokens in the URL are not accepted; send auth={token: <access token>}."
        )
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise ConnectionRefusedError("Missing token; send auth={token: <access token>}.")
    counted = quotas.quotas()
    if not counted.claim(sid, request.remote_addr or "unknown"):
        raise ConnectionRefusedError(
            f"Too many sockets from this address (SOCKETIO_MAX_PER_ADDRESS, "
            f"{counted.max_per_address})."
        )
    claims = verified_claims(token)
    if claims is None:
        counted.release(sid)
        raise ConnectionRefusedError("The token is invalid, expired or revoked.")
    return claims


def close_soon(sid: str) -> None:
    """Close the Engine.IO connection under ``sid`` once its refusal (or disconnect packet)
    is on its way: a refused or flooding client keeps neither a socket nor a place."""
    socketio: SocketIO = current_app.extensions["socketio"]
    server = socketio.server
    eio_sid = server.manager.eio_sid_from_sid(sid, "/")
    if eio_sid is None:
        return

    def close() -> None:
        socketio.sleep(CLOSE_DELAY)
        with contextlib.suppress(Exception):  # already gone
            quotas.drop(server, eio_sid)

    socketio.start_background_task(close)


def verified_claims(token: str) -> dict[str, Any] | None:
    """The claims of an access token the HTTP API would accept, else None: the same
    signature, expiry and required-claims checks, and the same login-session check."""
    try:
        claims: dict[str, Any] = decode_token(token)
    except (PyJWTError, JWTExtendedException):
        return None
    if claims.get("type") != "access" or load_caller(claims):
        return None
    return claims


def on_disconnect(reason: Any = None) -> None:
    sid: str = request.sid  # type: ignore[attr-defined]
    sockets: Sockets = current_app.extensions[STATE]
    with sockets.lock:
        sockets.logins.pop(sid, None)
    quotas.quotas().release(sid)


# --- ended logins -----------------------------------------------------------------------------


def _start_login_check(app: Flask, sockets: Sockets) -> None:
    # Once per process, after the fork (a gunicorn worker inherits nothing running). Tests
    # that drive disconnect_ended_logins themselves set the interval to 0.
    interval = app.config.get("SOCKETIO_LOGIN_CHECK_SECONDS", LOGIN_CHECK_SECONDS)
    if not interval:
        return
    with sockets.lock:
        if sockets.checker_pid == os.getpid():
            return
        sockets.checker_pid = os.getpid()
    socketio: SocketIO = app.extensions["socketio"]
    socketio.start_background_task(_check_logins_forever, app, socketio, sockets, interval)


def _check_logins_forever(
    app: Flask, socketio: SocketIO, sockets: Sockets, interval: float
) -> None:
    while True:
        socketio.sleep(interval)
        try:
            with app.app_context():
                disconnect_ended_logins(socketio, sockets)
        except SQLAlchemyError:  # the database is away: check again next time
            log.warning("socket login check failed", exc_info=True)


def disconnect_ended_logins(socketio: SocketIO, sockets: Sockets) -> list[str]:
    """Disconnect this process's sockets whose login was revoked, or whose user was
    deactivated or deleted; the sids disconnected."""
    with sockets.lock:
        logins = dict(sockets.logins)
    session_ids = sorted({session_id for session_id, _ in logins.values()})
    alive: set[tuple[int, int]] = set()
    for start in range(0, len(session_ids), 500):
        rows = db.session.execute(
            select(LoginSession.id, LoginSession.user_id)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.id.in_(session_ids[start : start + 500]))
            .where(LoginSession.revoked_at.is_(None), User.is_active.is_(True))
        )
        alive.update((row.id, row.user_id) for row in rows)
    ended = [sid for sid, login in logins.items() if login not in alive]
    for sid in ended:
        socketio.server.disconnect(sid, namespace="/")
        with sockets.lock:
            sockets.logins.pop(sid, None)
    return ended


def disconnect_all(app: Flask) -> int:
    """Drop the transport of every socket of this process (a worker that stops: the clients
    reconnect elsewhere instead of holding its graceful stop open); how many there were.

    Not a Socket.IO (or Engine.IO) disconnect packet: standard clients take that as "do not
    reconnect". An aborted transport is a dropped connection, which they retry."""
    socketio: SocketIO = app.extensions["socketio"]
    transports = list(socketio.server.eio.sockets.values())
    for transport in transports:
        transport.close(wait=False, abort=True)
    return len(transports)
