"""Socket.IO at ``/socket.io/`` (Flask-SocketIO): token-checked connections, rooms, item events.

A client connects with ``auth={"token": <access token>}``; a token the HTTP API would answer
401 refuses the connection. ``join``/``leave`` ``items`` or ``user:<id>`` answer through the
acknowledgement. After a commit that created, changed or deleted items, ``item.created``,
``item.updated`` (the body of ``GET /api/items/<id>``) and ``item.deleted`` (``{"id"}``) go to
``items`` and to the owner's room; one emit names both rooms, so a socket in both gets the
event once. With ``SOCKETIO_MESSAGE_QUEUE`` (default ``REDIS_URL``) every emit goes through
Redis to every worker and instance; without it, events stay in the process.

A login that ends (logout, password change, deactivation, deletion) is noticed by each
process's login check, which disconnects that login's sockets every ``LOGIN_CHECK_SECONDS``.
Polling the database was chosen over a revocation message: revocations are bulk UPDATEs in
several places (and more to come), and one indexed query per process every two seconds sees
all of them, on every instance, without each revoking code path having to remember to notify.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import socketio as sio
from flask import Flask, current_app, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_socketio import SocketIO, join_room, leave_room
from jwt import PyJWTError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import parse_list_header
from werkzeug.sansio.utils import get_host

from myproject import events
from myproject.auth.sessions import load_caller
from myproject.extensions import db
from myproject.models import Item, LoginSession, User
from myproject.models.item import item_dict

log = logging.getLogger(__name__)

ITEMS_ROOM = "items"
USER_ROOM_PREFIX = "user:"
# How often each process checks its sockets' logins; an ended login loses its sockets within
# this (plus one query), well inside the 5 s the contract allows.
LOGIN_CHECK_SECONDS = 2.0
# Query parameters a token might be smuggled in: refused, since URLs end up in access logs.
QUERY_TOKEN_NAMES = ("token", "access_token", "jwt", "auth")
STATE = "myproject_realtime"


@dataclass
class Sockets:
    """This process's connected sockets: Socket.IO sid -> (login session id, user id)."""

    logins: dict[str, tuple[int, int]] = field(default_factory=dict)
    checker_pid: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def init_app(app: Flask) -> SocketIO:
    """Serve Socket.IO on ``app`` and emit item events after each commit."""
    socketio = SocketIO(
        app,
        async_mode=async_mode(),
        client_manager=_client_manager(app),
        cors_allowed_origins=_origin_checker(app),
        manage_session=False,  # a token API keeps no cookie session
    )
    app.extensions[STATE] = Sockets()
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    socketio.on_event("join", on_join)
    socketio.on_event("leave", on_leave)
    events.capture(app, Item.__tablename__, item_dict)
    events.subscribe(app, emit_item_changes)
    return socketio


def async_mode() -> str:
    """``gevent`` when gunicorn's gevent worker has patched the standard library, else
    ``threading`` (gthread workers, ``flask run``). Asked, not guessed: python-engineio would
    pick gevent whenever it is installed, and then hang a threaded server."""
    monkey = sys.modules.get("gevent.monkey")
    patched = monkey is not None and monkey.is_module_patched("socket")
    return "gevent" if patched else "threading"


def _client_manager(app: Flask) -> sio.Manager | None:
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    if not url:
        return None
    # Redis pub/sub ignores the database number: the channel carries it, so instances that
    # share a Redis database (and REDIS_KEY_PREFIX) share events, as they share cache and limits.
    prefix = app.config.get("REDIS_KEY_PREFIX", "myproject")
    database = url.rsplit("/", 1)[-1].split("?")[0] if url.count("/") > 2 else "0"
    return sio.RedisManager(
        url,
        channel=f"{prefix}-socketio-{database or '0'}",
        redis_options={"socket_connect_timeout": 0.5},
    )


def _origin_checker(app: Flask) -> Any:
    """The origins of ``CORS_ORIGINS`` (taken literally: ``*`` is no wildcard here) and the
    server's own origin. Clients that send no Origin (not browsers) are not checked."""
    allowed = frozenset(app.config["CORS_ORIGINS"])
    hops: int = app.config["TRUSTED_PROXIES"]

    def is_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
        return origin is not None and (origin in allowed or origin == own_origin(environ, hops))

    return is_allowed


def own_origin(environ: dict[str, Any], hops: int) -> str | None:
    """The origin of the server as the app's ProxyFix sees it (``/socket.io/`` is answered
    before ProxyFix runs): with ``hops`` trusted proxies, the scheme, host and port they
    forwarded, else the request's own; a scheme's default port left out, as browsers do."""
    scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST")
    if hops:
        scheme = _forwarded(environ, "HTTP_X_FORWARDED_PROTO", hops) or scheme
        host = _forwarded(environ, "HTTP_X_FORWARDED_HOST", hops) or host
        port = _forwarded(environ, "HTTP_X_FORWARDED_PORT", hops)
        if host and port:
            if not host.endswith("]"):  # not a bare IPv6 literal: drop the port it names
                host = host.rsplit(":", 1)[0]
            host = f"{host}:{port}"
    return f"{scheme}://{get_host(scheme, host)}" if host else None


def _forwarded(environ: dict[str, Any], name: str, hops: int) -> str | None:
    """ProxyFix's rule: the value ``hops`` from the right, if the header has that many."""
    values = parse_list_header(environ.get(name, ""))
    return values[-hops] if len(values) >= hops else None


# --- client events ------------------------------------------------------------------------


def on_connect(auth: Any = None) -> None:
    """Accept a valid access token of a live login, from the auth payload only."""
    if any(name in request.args for name in QUERY_TOKEN_NAMES):
        raise ConnectionRefusedError(
            "Tokens in the URL are not accepted; send auth={token: <access token>}."
        )
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise ConnectionRefusedError("Missing token; send auth={token: <access token>}.")
    claims = verified_claims(token)
    if claims is None:
        raise ConnectionRefusedError("The token is invalid, expired or revoked.")
    sockets: Sockets = current_app.extensions[STATE]
    with sockets.lock:
        sockets.logins[request.sid] = (int(claims["sid"]), int(claims["sub"]))  # type: ignore[attr-defined]
    _start_login_check(current_app._get_current_object(), sockets)  # type: ignore[attr-defined]


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
    sockets: Sockets = current_app.extensions[STATE]
    with sockets.lock:
        sockets.logins.pop(request.sid, None)  # type: ignore[attr-defined]


def on_join(data: Any = None) -> dict[str, Any]:
    room = _room_of(data)
    if isinstance(room, dict):
        return room
    join_room(room)
    return {"ok": True, "room": room}


def on_leave(data: Any = None) -> dict[str, Any]:
    room = _room_of(data)
    if isinstance(room, dict):
        return room
    leave_room(room)
    return {"ok": True, "room": room}


def _room_of(data: Any) -> str | dict[str, Any]:
    """The room named by ``{"room": ...}``, or the error acknowledgement."""
    room = data.get("room") if isinstance(data, dict) else None
    if room == ITEMS_ROOM:
        return ITEMS_ROOM
    if isinstance(room, str) and room.startswith(USER_ROOM_PREFIX):
        user_id = room.removeprefix(USER_ROOM_PREFIX)
        if not (user_id.isascii() and user_id.isdigit()) or int(user_id) >= 2**31:
            return {"ok": False, "error": f"Unknown room {room!r}."}
        if db.session.get(User, int(user_id)) is None:
            return {"ok": False, "error": f"User {int(user_id)} does not exist."}
        return f"{USER_ROOM_PREFIX}{int(user_id)}"
    return {"ok": False, "error": f"Unknown room {room!r}; use 'items' or 'user:<id>'."}


# --- server events --------------------------------------------------------------------------


def emit_item_changes(changes: list[events.Change]) -> None:
    """After-commit subscriber: one event per changed item, to ``items`` and its owner."""
    socketio: SocketIO = current_app.extensions["socketio"]
    for name, payload, owner_id in item_events(changes):
        socketio.emit(name, payload, to=[ITEMS_ROOM, f"{USER_ROOM_PREFIX}{owner_id}"])


def item_events(changes: list[events.Change]) -> list[tuple[str, dict[str, Any], int]]:
    """(event, payload, owner id) per item, in order: several flushes of one item in one
    transaction are one event (a row created and deleted in it is none)."""
    first: dict[Any, str] = {}
    last: dict[Any, events.Change] = {}
    for change in changes:
        if change.table == Item.__tablename__ and change.snapshot is not None:
            first.setdefault(change.id, change.action)
            last[change.id] = change
    found = []
    for item_id, change in last.items():
        action = "created" if first[item_id] == "created" else change.action
        if action == "created" and change.action == "deleted":
            continue
        owner_id = change.snapshot["owner"]["id"]
        payload = {"id": item_id} if action == "deleted" else change.snapshot
        found.append((f"item.{action}", payload, owner_id))
    return found


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
    """Disconnect every socket of this process (a worker that stops: the clients reconnect
    elsewhere instead of holding its graceful stop open); how many there were."""
    socketio: SocketIO = app.extensions["socketio"]
    sockets: Sockets = app.extensions[STATE]
    with sockets.lock:
        sids = list(sockets.logins)
    for sid in sids:
        socketio.server.disconnect(sid, namespace="/")
    return len(sids)
