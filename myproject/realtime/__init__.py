"""Socket.IO at ``/socket.io/`` (Flask-SocketIO): token-checked connections, rooms, events.

A client connects with ``auth={"token": <access token>}``; a token the HTTP API would answer
401 refuses the connection (``connections``). ``join``/``leave`` a resource's room (``items``)
or ``user:<id>`` answer through the acknowledgement (``rooms``). After a commit, every
resource declared with a ``broadcast`` (``myproject.models``) sends ``<name>.created``,
``<name>.updated`` (its representation, as ``GET`` answers it) and ``<name>.deleted``
(``{"id"}``) to its room and to the owner's room; one emit names both rooms, so a socket in
both gets the event once (``broadcast``). With ``SOCKETIO_MESSAGE_QUEUE`` (default
``REDIS_URL``) every emit goes through Redis to every worker and instance; without it, events
stay in the process.

The origin check reads the request as the app's one ``ProxyFix`` left it: ``create_app``
wraps the whole WSGI stack, this Socket.IO middleware included, in it (``hooks``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import socketio as sio
from flask import Flask
from flask_socketio import SocketIO

from myproject import events
from myproject.models.resource import resources
from myproject.realtime import backpressure, broadcast, connections, edge, quotas, rooms
from myproject.realtime.broadcast import resource_events
from myproject.realtime.connections import STATE, Sockets, disconnect_all, disconnect_ended_logins

__all__ = [
    "STATE",
    "disconnect_all",
    "disconnect_ended_logins",
    "init_app",
    "resource_events",
]


def init_app(app: Flask) -> SocketIO:
    """Serve Socket.IO on ``app`` and emit resource events after each commit."""
    socketio = SocketIO(
        app,
        async_mode=async_mode(),
        client_manager=_client_manager(app),
        cors_allowed_origins=edge.origin_checker(app),
        manage_session=False,  # a token API keeps no cookie session
    )
    app.wsgi_app = edge.SocketIOEdge(app.wsgi_app, app)  # type: ignore[method-assign]
    app.extensions[STATE] = Sockets()
    quotas.init_app(app)
    socketio.on_event("connect", connections.on_connect)
    socketio.on_event("disconnect", connections.on_disconnect)
    socketio.on_event("join", rooms.on_join)
    socketio.on_event("leave", rooms.on_leave)
    socketio.on_event("*", _unknown)
    quotas.guard_events(app, socketio.server)
    backpressure.install()
    for resource in resources():
        if resource.broadcast is not None:
            events.capture(app, resource.table, resource.serialize)
    events.subscribe(app, broadcast.emit_changes)
    for name in ("engineio.server", "socketio.server"):
        logging.getLogger(name).addFilter(_ONE_LINE)
    return socketio


def _unknown(event: Any = None, *_data: Any) -> dict[str, Any]:
    return {"ok": False, "error": f"Unknown event {str(event)[:64]!r}; use 'join' or 'leave'."}


class _OneLine(logging.Filter):
    """Engine.IO and Socket.IO log a client's malformed packet with its traceback: keep the
    one line (and the exception's name), drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {str(error)[:200]}"
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


_ONE_LINE = _OneLine()


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
