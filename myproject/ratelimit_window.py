"""A fixed-window rate limit that costs one Redis round trip per request, headers included.

limits' fixed-window strategy counts with one script (INCRBY, and EXPIRE on the first hit),
then Flask-Limiter reads the window back for the ``X-RateLimit-*`` headers: a GET for the
count and a TTL for the reset time, two more round trips on every limited request. Here one
script increments and returns the count and the TTL together; the answer is kept in ``g``
for the rest of the request, so the headers need no further trip. Counting stays in Redis,
atomic, so limits stay exact across workers and instances.

The class is registered with limits under ``ONE_TRIP_FIXED_WINDOW``: Flask-Limiter builds its
strategy (and its in-memory fallback's) by that name. Any other storage (memory, or the
fallback while Redis is down) gets limits' own fixed window unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from flask import g, has_app_context
from limits import RateLimitItem
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter
from limits.util import WindowStats

ONE_TRIP_FIXED_WINDOW = "fixed-window-one-trip"

# Returns {count, ttl}. The EXPIRE also repairs a counter left without a TTL, which would
# otherwise never reset.
INCR_WITH_TTL = b"""
local current = redis.call("incrby", KEYS[1], ARGV[2])
local ttl = redis.call("ttl", KEYS[1])
if ttl < 0 then
    redis.call("expire", KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {current, ttl}
"""


class OneTripFixedWindowRateLimiter(FixedWindowRateLimiter):
    """limits' fixed window; on Redis, ``hit`` also answers ``get_window_stats`` for the same
    limit and key during the same request."""

    def __init__(self, storage: Any) -> None:
        super().__init__(storage)
        self._script: Any = None
        if isinstance(storage, RedisStorage):
            self._script = storage.get_connection().register_script(INCR_WITH_TTL)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        if self._script is None:
            return super().hit(item, *identifiers, cost=cost)
        key = item.key_for(*identifiers)
        stored_key = self.storage.prefixed_key(key)  # type: ignore[attr-defined]
        count, ttl = self._script([stored_key], [item.get_expiry(), cost])
        stats = WindowStats(time.time() + max(int(ttl), 0), max(0, item.amount - int(count)))
        if has_app_context():
            g.setdefault("ratelimit_windows", {})[key] = stats
        return int(count) <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        if self._script is not None and has_app_context():
            known: dict[str, WindowStats] = g.get("ratelimit_windows") or {}
            stats = known.get(item.key_for(*identifiers))
            if stats is not None:
                return stats
        return super().get_window_stats(item, *identifiers)


STRATEGIES[ONE_TRIP_FIXED_WINDOW] = OneTripFixedWindowRateLimiter
