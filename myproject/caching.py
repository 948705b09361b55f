"""Response caching for public reads that stays correct across instances and Redis outages.

Every cache key contains a *data version*: a random token kept in the cache itself. Any write
that changes what a public read returns replaces the token (``invalidate``), so every instance
stops using the old entries at once, without guessing key names. While Redis is unreachable,
reads go to the database; a write that could not replace the token keeps retrying in the
background, and the first successful call after an outage replaces it too, so nothing cached
before the write is served once Redis is reachable again. Every entry also expires after
CACHE_DEFAULT_TIMEOUT seconds: the bound for an instance partitioned from the others.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app

from myproject.events import Change
from myproject.extensions import cache
from myproject.metrics import record_cache_lookup
from myproject.models.resource import resource_of

log = logging.getLogger(__name__)

VERSION_KEY = "data-version"
RETRY_AFTER_FAILURE = 2.0  # seconds to skip Redis after an error, so an outage costs nothing
RETRY_INVALIDATION_EVERY = 0.5  # seconds between attempts to replace the version after a write

T = TypeVar("T")


@dataclass
class CacheHealth:
    down_since: float | None = None
    next_try: float = 0.0
    needs_new_version: bool = False
    version: str | None = None  # the data version this process saw last
    retrying: bool = False


def _health(app: Flask) -> CacheHealth:
    state: CacheHealth = app.extensions.setdefault("myproject_cache_health", CacheHealth())
    return state


def _call(operation: Callable[[], Any]) -> tuple[bool, Any]:
    """Run one cache operation; (False, None) when the cache is unreachable."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    health = _health(app)
    now = time.monotonic()
    if health.down_since is not None and now < health.next_try:
        return False, None
    try:
        if health.needs_new_version:
            cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=0)
            health.needs_new_version = False
        result = operation()
    except Exception as exc:  # redis errors of any kind: the cache is optional
        if health.down_since is None:
            log.warning("cache unavailable (%s); serving from the database", type(exc).__name__)
            health.down_since = now
        health.next_try = now + RETRY_AFTER_FAILURE
        health.needs_new_version = True
        return False, None
    if health.down_since is not None:
        log.warning("cache available again after %.1fs", now - health.down_since)
        health.down_since = None
    return True, result


def redis_available() -> bool:
    """Ping Redis directly (readiness probe), ignoring the back-off."""
    from redis import Redis

    url = current_app.config.get("REDIS_URL")
    if not url:
        return False
    try:
        client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def data_version() -> str | None:
    ok, version = _call(lambda: cache.get(VERSION_KEY))
    if not ok:
        return None
    if version is None:
        fresh = uuid.uuid4().hex
        # add() is SET NX: the first instance to get here decides the token.
        ok, _ = _call(lambda: cache.add(VERSION_KEY, fresh, timeout=0))
        ok, version = _call(lambda: cache.get(VERSION_KEY))
        if not ok or version is None:
            return None
    return str(version)


def invalidate() -> None:
    """Forget every cached public read, on every instance (call after a committed write)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = _health(app)
    token = uuid.uuid4().hex
    ok, _ = _call(lambda: cache.set(VERSION_KEY, token, timeout=0))
    if ok:
        state.version = token
    else:
        state.needs_new_version = True
        _retry_invalidation(app, state)


def invalidate_after_change(changes: list[Change]) -> None:
    """After-commit subscriber: a committed change to a resource declared ``cached``
    (what public reads are made of) invalidates."""
    if any(_cached(change.table) for change in changes):
        invalidate()


def _cached(table: str) -> bool:
    resource = resource_of(table)
    return resource is not None and resource.cached


def _retry_invalidation(app: Flask, state: CacheHealth) -> None:
    """Keep trying to replace the version token after a write that could not.

    Other instances may still reach Redis and serve entries older than that write; they stop
    as soon as this succeeds. After CACHE_DEFAULT_TIMEOUT seconds every such entry has
    expired anyway, which bounds the loop.
    """
    if state.retrying:
        return
    state.retrying = True
    deadline = time.monotonic() + max(1, int(app.config.get("CACHE_DEFAULT_TIMEOUT") or 60))

    def run() -> None:
        try:
            while state.needs_new_version and time.monotonic() < deadline:
                time.sleep(RETRY_INVALIDATION_EVERY)
                with app.app_context():
                    try:
                        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=0)
                    except Exception:  # still unreachable: try again
                        continue
                    state.needs_new_version = False
        finally:
            state.retrying = False

    threading.Thread(target=run, name="cache-invalidation-retry", daemon=True).start()


def lookup(
    kind: str, name: str, prefetched: Mapping[str, Any] | None = None
) -> tuple[str | None, Any]:
    """The key of ``name`` under the current data version and the value stored there (None:
    not stored), counted as a cache hit or miss (GET /metrics). (None, None) when the cache
    is down: then there is nothing to ``store`` either.

    ``prefetched``: raw Redis values by raw key, read earlier in the request by the rate
    limit script from ``redis_keys(kind, name)``; used instead of a round trip of its own.
    """
    key, stored = _find(kind, name, prefetched or {})
    record_cache_lookup(hit=stored is not None)
    return key, stored


def redis_keys(kind: str, name: str) -> tuple[str, str] | None:
    """The raw Redis keys (version, entry under the last seen version) that ``lookup`` reads
    in the steady state, for a caller that can fetch them in a round trip it makes anyway;
    None when there is no steady state to guess from (first lookup, Redis down, no Redis)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = _health(app)
    backend = getattr(cache, "cache", None)
    prefix = getattr(backend, "key_prefix", None)
    if state.version is None or state.down_since is not None or not isinstance(prefix, str):
        return None
    return prefix + VERSION_KEY, f"{prefix}{kind}:{state.version}:{name}"


def _decode(raw: Any) -> Any:
    return cache.cache.serializer.loads(raw)


def _find(kind: str, name: str, prefetched: Mapping[str, Any]) -> tuple[str | None, Any]:
    """The key of ``name`` under the current data version, and the value stored there.

    In the steady state this is one round trip: the version and the entry under the version
    this process saw last, fetched together (MGET), or none when the rate limit script has
    fetched them already (``prefetched``). (None, None) when the cache is down.
    """
    state = _health(current_app._get_current_object())  # type: ignore[attr-defined]
    guess = state.version
    version: str | None = None
    if guess is not None:
        guessed_key = f"{kind}:{guess}:{name}"
        raw = redis_keys(kind, name) if prefetched else None
        if raw is not None and raw[0] in prefetched and raw[1] in prefetched:
            ok, values = True, [_decode(prefetched[raw[0]]), _decode(prefetched[raw[1]])]
        else:
            ok, values = _call(lambda: cache.get_many(VERSION_KEY, guessed_key))
        if not ok:
            return None, None
        if values[0] == guess:
            return guessed_key, values[1]
        version = values[0]  # another instance wrote meanwhile (None: no token yet)
    version = version or data_version()
    if version is None:
        return None, None
    state.version = version
    key = f"{kind}:{version}:{name}"
    ok, stored = _call(lambda: cache.get(key))
    return (key, stored) if ok else (None, None)


def remember(name: str, compute: Callable[[], T]) -> T:
    """``compute()``, cached under ``name`` until the next write (or the cache timeout)."""
    key, stored = lookup("val", name)
    if stored is not None:
        result: T = stored
        return result
    value = compute()
    if key is not None:
        store(key, value)
    return value


def store(key: str, value: Any) -> None:
    """Keep ``value`` under a key from ``lookup`` (nothing happens while the cache is down)."""
    _call(lambda: cache.set(key, value))
