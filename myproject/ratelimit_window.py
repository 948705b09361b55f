"""A fixed-window rate limit that costs one Redis round trip per request, everything included.

limits' fixed-window strategy counts with one script (INCRBY, and EXPIRE on the first hit),
then Flask-Limiter reads the window back for the ``X-RateLimit-*`` headers: a GET for the
count and a TTL for the reset time, two more round trips on every limited request. Here one
script does everything the request needs from Redis before its view runs:

- increments the window and returns the count with its TTL, kept in ``g`` for the headers;
- for a token's request, checks whether its login has ended (``myproject.ended_logins``) and
  if so counts the request against the anonymous bucket of its address instead;
- for a GET that a ``cached_get`` view answers, fetches the response cache's version and
  entry (``myproject.api.caching.prefetch_keys``), so a cached read makes one round trip.

Counting stays in Redis, atomic, so limits stay exact across workers and instances.

The class is registered with limits under ``ONE_TRIP_FIXED_WINDOW``: Flask-Limiter builds its
strategy (and its in-memory fallback's) by that name. Any other storage (memory, or the
fallback while Redis is down) gets limits' own fixed window, with the ended-login check.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import flask_limiter
from flask import current_app, g, has_request_context
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter
from limits.util import WindowStats

from myproject.ended_logins import marker_key

ONE_TRIP_FIXED_WINDOW = "fixed-window-one-trip"

# KEYS[1] the window. ARGV: expiry, cost, ended check ("1"/"0"), expiry of the alternative.
# With the ended check, KEYS[2] is the login's marker and KEYS[3] the anonymous window counted
# instead when the marker exists. Any further keys are read with MGET (the cache prefetch).
# Returns {count, ttl, ended, {values}}. The EXPIRE also repairs a counter left without a
# TTL, which would otherwise never reset.
LIMIT_SCRIPT = b"""
local key, expiry, first_read, ended = KEYS[1], ARGV[1], 2, 0
if ARGV[3] == "1" then
    first_read = 4
    if redis.call("exists", KEYS[2]) == 1 then
        key, expiry, ended = KEYS[3], ARGV[4], 1
    end
end
local current = redis.call("incrby", key, ARGV[2])
local ttl = redis.call("ttl", key)
if ttl < 0 then
    redis.call("expire", key, expiry)
    ttl = tonumber(expiry)
end
local values = {}
if #KEYS >= first_read then
    values = redis.call("mget", unpack(KEYS, first_read))
end
return {current, ttl, ended, values}
"""

parse_limit = functools.lru_cache(maxsize=64)(parse)


def _anonymous_instead(
    item: RateLimitItem, identifiers: tuple[str, ...]
) -> tuple[str, RateLimitItem, tuple[str, ...]] | None:
    """For a request counted against a token's user: the marker of its login, and the limit
    and identifiers that count it as anonymous if that login has ended. The tier limit
    (``ratelimit.default_limit``) becomes the anonymous one; route limits stay as they are."""
    claims = g.get("token_claims") if has_request_context() else None
    if not claims or claims.get("sid") is None:
        return None
    user_key = f"user:{claims['sub']}"
    if user_key not in identifiers:
        return None
    from myproject.ratelimit import client_address

    address = f"addr:{client_address()}"
    anonymous_ids = tuple(address if part == user_key else part for part in identifiers)
    tier = g.get("ratelimit_tier")
    if tier is not None and item == parse_limit(tier):
        item = parse_limit(current_app.config["RATELIMIT_ANONYMOUS"])
    return marker_key(claims["sid"]), item, anonymous_ids


def _counted_as(original: str, item: RateLimitItem, identifiers: tuple[str, ...]) -> None:
    """Remember that the limit keyed ``original`` was counted as ``item`` / ``identifiers``
    (for the headers, ``Limiter.current_limit``)."""
    g.setdefault("ratelimit_counted_as", {})[original] = (item, identifiers)


class OneTripFixedWindowRateLimiter(FixedWindowRateLimiter):
    """limits' fixed window; on Redis, ``hit`` also answers ``get_window_stats`` for the same
    limit and key during the same request, checks for an ended login and prefetches the
    response cache, all in one script call."""

    def __init__(self, storage: Any) -> None:
        super().__init__(storage)
        self._script: Any = None
        if isinstance(storage, RedisStorage):
            self._script = storage.get_connection().register_script(LIMIT_SCRIPT)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        instead = _anonymous_instead(item, identifiers)
        if self._script is None:
            if instead is not None and self.storage.get(instead[0]) > 0:
                _counted_as(item.key_for(*identifiers), instead[1], instead[2])
                item, identifiers = instead[1], instead[2]
            return super().hit(item, *identifiers, cost=cost)
        storage: Any = self.storage
        keys = [storage.prefixed_key(item.key_for(*identifiers))]
        args: list[Any] = [item.get_expiry(), cost, "0", 0]
        if instead is not None:
            keys += [
                storage.prefixed_key(instead[0]),
                storage.prefixed_key(instead[1].key_for(*instead[2])),
            ]
            args[2:] = ["1", instead[1].get_expiry()]
        reads = self._prefetch_keys()
        count, ttl, ended, values = self._script(keys + list(reads), args)
        if int(ended):
            _counted_as(item.key_for(*identifiers), instead[1], instead[2])  # type: ignore[index]
            item, identifiers = instead[1], instead[2]  # type: ignore[index]
        stats = WindowStats(time.time() + max(int(ttl), 0), max(0, item.amount - int(count)))
        if has_request_context():
            g.setdefault("ratelimit_windows", {})[item.key_for(*identifiers)] = stats
            if reads:
                from myproject.api.caching import PREFETCHED

                g.setdefault(PREFETCHED, dict(zip(reads, values, strict=True)))
        return int(count) <= item.amount

    @staticmethod
    def _prefetch_keys() -> tuple[str, ...]:
        """The response cache's keys for this request's view, on its first limit only."""
        if not has_request_context() or g.get("ratelimit_prefetch_asked"):
            return ()
        g.ratelimit_prefetch_asked = True
        from myproject.api.caching import prefetch_keys  # the HTTP layer, imported late

        return prefetch_keys()

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        if self._script is not None and has_request_context():
            known: dict[str, WindowStats] = g.get("ratelimit_windows") or {}
            stats = known.get(item.key_for(*identifiers))
            if stats is not None:
                return stats
        return super().get_window_stats(item, *identifiers)


STRATEGIES[ONE_TRIP_FIXED_WINDOW] = OneTripFixedWindowRateLimiter


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, with headers that describe the bucket a request was counted in: for a
    token whose login has ended, the anonymous one (``OneTripFixedWindowRateLimiter``)."""

    @property
    def current_limit(self) -> flask_limiter.RequestLimit | None:
        limit = super().current_limit
        counted_as = g.get("ratelimit_counted_as") if limit is not None else None
        if limit is None or not counted_as or limit.key not in counted_as:
            return limit
        item, identifiers = counted_as[limit.key]
        return flask_limiter.RequestLimit(
            self, item, list(identifiers), limit.breached, limit.shared
        )
