"""What one client may cost the Socket.IO server: events per socket, sockets per address.

``SOCKETIO_EVENT_LIMIT`` (default ``20 per 10 seconds``) is counted per socket with
Flask-Limiter's ``limits`` library on the limiter's own storage (``RATELIMIT_STORAGE_URI``:
Redis, shared by every worker and instance, or this process's memory). An event past it is
answered ``{"ok": false, "error": "rate limited"}`` without running its handler (no
greenlet, no request context, no database); a socket past twice the limit is dropped. A
socket's first refused event costs the log one warning line, later ones nothing.

``SOCKETIO_MAX_PER_ADDRESS`` (default 20) open sockets per client address: one Redis sorted
set per address (member: the socket's id, score: when its claim lapses). Each process renews
its sockets' claims every ``CLAIM_RENEW_SECONDS`` and a disconnect removes its claim, so the
sockets of a worker that died stop counting after ``CLAIM_SECONDS`` at most. Without Redis the
count is per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

import limits
import redis
from flask import Flask, current_app
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from socketio.packet import ACK

log = logging.getLogger(__name__)

QUOTAS = "myproject_realtime_quotas"
RATE_LIMITED = {"ok": False, "error": "rate limited"}
CLAIM_SECONDS = 60
CLAIM_RENEW_SECONDS = 20
STORAGE_ERRORS = (redis.RedisError, OSError)


@dataclass
class Quotas:
    """One app's event limiter and address counter (one per process after the fork)."""

    event_limit: limits.RateLimitItem
    flood_limit: limits.RateLimitItem
    max_per_address: int
    prefix: str
    storage: Storage
    redis_url: str | None
    fallback: MemoryStorage = field(default_factory=MemoryStorage)
    # This process's sockets: sid -> client address; sids already warned about.
    addresses: dict[str, str] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    renewer_pid: int | None = None
    _redis: Any = None

    def hit(self, sid: str) -> str:
        """Count one event of socket ``sid``: ``"ok"``, ``"limited"`` or ``"flood"``."""
        for storage in (self.storage, self.fallback):
            try:
                limiter = FixedWindowRateLimiter(storage)
                if not limiter.hit(self.flood_limit, self.prefix, "flood", sid):
                    return "flood"
                return (
                    "ok" if limiter.hit(self.event_limit, self.prefix, "event", sid) else "limited"
                )
            except STORAGE_ERRORS:
                continue
        return "ok"

    # --- sockets per address ------------------------------------------------------------------

    def redis(self) -> Any:
        if self._redis is None and self.redis_url:
            self._redis = redis.Redis.from_url(
                self.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
        return self._redis

    def _key(self, address: str) -> str:
        return f"{self.prefix}:sockets:{address}"

    def claim(self, sid: str, address: str) -> bool:
        """Take one of ``address``'s places for ``sid``; False when all are taken."""
        now = time.time()
        client = self.redis()
        if client is not None:
            try:
                key = self._key(address)
                pipe = client.pipeline()
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.zadd(key, {sid: now + CLAIM_SECONDS})
                pipe.zcard(key)
                pipe.expire(key, CLAIM_SECONDS)
                count = pipe.execute()[2]
                if count > self.max_per_address:
                    client.zrem(key, sid)
                    return False
                with self.lock:
                    self.addresses[sid] = address
                return True
            except STORAGE_ERRORS:
                pass  # counted in this process only, like the limiter's fallback
        with self.lock:
            if sum(1 for a in self.addresses.values() if a == address) >= self.max_per_address:
                return False
            self.addresses[sid] = address
        return True

    def release(self, sid: str) -> None:
        with self.lock:
            address = self.addresses.pop(sid, None)
            self.warned.discard(sid)
        client = self.redis()
        if address is not None and client is not None:
            try:
                client.zrem(self._key(address), sid)
            except STORAGE_ERRORS:
                pass  # the claim lapses by itself

    def renew(self) -> None:
        """Extend the claims of this process's sockets (called every CLAIM_RENEW_SECONDS)."""
        client = self.redis()
        with self.lock:
            claims = dict(self.addresses)
        if client is None or not claims:
            return
        until = time.time() + CLAIM_SECONDS
        try:
            pipe = client.pipeline()
            for sid, address in claims.items():
                pipe.zadd(self._key(address), {sid: until}, xx=True)
                pipe.expire(self._key(address), CLAIM_SECONDS)
            pipe.execute()
        except STORAGE_ERRORS:
            log.warning("renewing socket claims in Redis failed")


def start_renewing(app: Flask, counted: Quotas) -> None:
    """Once per process, after the fork: renew this process's claims every few seconds."""
    with counted.lock:
        if counted.renewer_pid == os.getpid() or not counted.redis_url:
            return
        counted.renewer_pid = os.getpid()
    socketio: Any = app.extensions["socketio"]

    def renew_forever() -> None:
        while True:
            socketio.sleep(CLAIM_RENEW_SECONDS)
            counted.renew()

    socketio.start_background_task(renew_forever)


def init_app(app: Flask) -> None:
    event_limit = limits.parse(app.config["SOCKETIO_EVENT_LIMIT"])
    flood_limit = type(event_limit)(event_limit.amount * 2, event_limit.multiples)
    uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    options = app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}
    app.extensions[QUOTAS] = Quotas(
        event_limit=event_limit,
        flood_limit=flood_limit,
        max_per_address=int(app.config["SOCKETIO_MAX_PER_ADDRESS"]),
        prefix=f"{app.config.get('RATELIMIT_KEY_PREFIX', 'myproject-rl')}-socketio",
        storage=cast(Storage, storage_from_string(uri, **options)),
        redis_url=uri if uri.startswith(("redis://", "rediss://")) else None,
    )


def quotas(app: Flask | None = None) -> Quotas:
    found: Quotas = (app or current_app).extensions[QUOTAS]
    return found


def drop(server: Any, eio_sid: str) -> None:
    """Close an Engine.IO connection for good: its transport, and the TCP connection under
    a WebSocket (a client that ignores the close frame could otherwise keep sending, and
    each of its packets would still be read and decoded)."""
    environ = server.environ.get(eio_sid) or {}
    transport = server.eio.sockets.get(eio_sid)
    if transport is not None:
        transport.close(wait=False, abort=True)
    connection = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if connection is None or not environ.get("HTTP_UPGRADE"):
        return

    def shut_down() -> None:
        server.sleep(0.05)  # after the transport's writer has sent its close frame
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)

    server.start_background_task(shut_down)


def guard_events(app: Flask, server: Any) -> None:
    """Count every event of every socket before python-socketio spends anything on it (a
    greenlet, a Flask request context, the handler): past the limit the rate-limited
    acknowledgement goes straight back; past twice the limit the socket is dropped at once
    (its transport closed: a flooding client's queued packets are never read)."""
    counted = quotas(app)
    handle_event = server._handle_event

    def counted_event(eio_sid: str, namespace: str | None, ack_id: Any, data: Any) -> None:
        namespace = namespace or "/"
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not server.manager.is_connected(sid, namespace):
            return  # refused or dropped already: nothing to answer
        verdict = counted.hit(sid)
        if verdict == "ok":
            handle_event(eio_sid, namespace, ack_id, data)
            return
        with counted.lock:
            first = sid not in counted.warned
            counted.warned.add(sid)
        if first:
            log.warning(
                "socket %s from %s is over SOCKETIO_EVENT_LIMIT (%s): events refused, "
                "dropped past twice the limit",
                sid,
                counted.addresses.get(sid, "?"),
                counted.event_limit,
            )
        if verdict == "flood":
            server.disconnect(sid, namespace=namespace, ignore_queue=True)
            drop(server, eio_sid)
        elif ack_id is not None:
            server._send_packet(
                eio_sid,
                server.packet_class(ACK, namespace=namespace, id=ack_id, data=[RATE_LIMITED]),
            )

    server._handle_event = counted_event
