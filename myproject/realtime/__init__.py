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

import sys
from typing import Any

import socketio as sio
from flask import Flask
from flask_socketio import SocketIO
from werkzeug.sansio.utils import get_host

from myproject import events
from myproject.models.resource import resources
from myproject.realtime import broadcast, connections, rooms
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
        cors_allowed_origins=_origin_checker(app),
        manage_session=False,  # a token API keeps no cookie session
    )
    app.extensions[STATE] = Sockets()
    socketio.on_event("connect", connections.on_connect)
    socketio.on_event("disconnect", connections.on_disconnect)
    socketio.on_event("join", rooms.on_join)
    socketio.on_event("leave", rooms.on_leave)
    for resource in resources():
        if resource.broadcast is not None:
            events.capture(app, resource.table, resource.serialize)
    events.subscribe(app, broadcast.emit_changes)
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

    def is_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
        return origin is not None and (origin in allowed or origin == own_origin(environ))

    return is_allowed


def own_origin(environ: dict[str, Any]) -> str | None:
    """The server's origin as the request names it (after ``ProxyFix``: as the trusted
    proxies forwarded it); a scheme's default port left out, as browsers do."""
    scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST")
    return f"{scheme}://{get_host(scheme, host)}" if host else None
