"""Personal access tokens (API keys): issuing, revoking, and the cheap check of each request.

A request's key is looked up by its SHA-256 (``accounts.hash_token``: the key has 256 random
bits, see ``myproject.models.api_key``). With Redis as the cache, the lookup is cached there
(hash -> key id, owner, scopes, expiry), so a key check costs one Redis GET where a JWT costs
a signature check; the owner's row is then read as for a JWT (active or not, tier).

Revocation is immediate on every instance: before the commit that deletes a key, its entry is
replaced by a *tombstone*, and entries are only ever written with ``add`` (SET NX). An
instance that read the row just before the delete committed cannot put it back: its ``add``
finds the tombstone. If Redis cannot take the tombstone, the key is not deleted (503, retry):
other instances would serve the old entry for up to ``CACHE_SECONDS``. A per-process memory
cache would keep revoked keys alive on the other processes, so without Redis every check reads
the database.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import security_events
from myproject.accounts import hash_token
from myproject.caching import _call as cache_call
from myproject.extensions import cache, db
from myproject.models import ApiKey, User
from myproject.models.base import utcnow

log = logging.getLogger(__name__)

KEY_PREFIX = "mp_"
MAX_LIVE_KEYS = 20
CACHE_SECONDS = 300  # how long a key's entry lives in the cache
TOMBSTONE_SECONDS = 3600
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at moves at most this often
_REVOKED = "revoked"


@dataclass(frozen=True)
class KeyGrant:
    """What a presented key allows: whose it is, which scopes, until when."""

    key_id: int
    user_id: int
    scopes: frozenset[str]
    expires_at: float  # Unix time
    token_hash: str


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def create_key(*, user: User, name: str, scopes: list[str], expires_in_days: int) -> ApiKey:
    """A new key for ``user``; its ``token`` attribute holds the key, for this answer only.

    Aborts with 422 past ``MAX_LIVE_KEYS`` live keys (the owner's row is locked, so two
    concurrent requests cannot both take the last place).
    """
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    now = utcnow()
    live = db.session.scalar(
        select(func.count(ApiKey.id)).where(ApiKey.user_id == user.id, ApiKey.expires_at > now)
    )
    if (live or 0) >= MAX_LIVE_KEYS:
        db.session.rollback()
        message = f"At most {MAX_LIVE_KEYS} live API keys per user; delete one first."
        abort(422, message=message, errors={"json": {"_schema": [message]}})
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.create(
        user_id=user.id,
        name=name,
        token_hash=hash_token(token),
        prefix=token[:8],
        scopes=" ".join(sorted(set(scopes), key=scopes.index)),
        expires_at=now + timedelta(days=expires_in_days),
        commit=False,
    )
    db.session.flush()  # the key's id, for its event
    security_events.record(
        security_events.API_KEY_CREATED,
        user_id=user.id,
        actor_id=user.id,
        detail={"api_key_id": key.id, "name": name},
    )
    db.session.commit()
    key.token = token
    return key


def revoke_key(*, key: ApiKey) -> None:
    """Delete the key; once committed, no instance accepts it any more.

    Raises 503 (nothing deleted) when Redis, as the cache, cannot take the key's tombstone:
    other instances could otherwise accept the key from their cache for ``CACHE_SECONDS``.
    """
    key_id, token_hash = key.id, key.token_hash
    security_events.record(
        security_events.API_KEY_REVOKED,
        user_id=key.user_id,
        actor_id=key.user_id,
        detail={"api_key_id": key.id, "name": key.name},
    )
    key.delete(commit=False)
    # The tombstone first: an instance that reads the row before the commit cannot put the
    # entry back (``add`` finds the tombstone), and a failed write leaves the key as it was.
    if not _forget(token_hash):
        db.session.rollback()
        log.error("API key cache unavailable: key %s not deleted (503)", key_id)
        abort(
            503,
            message="The key cannot be revoked everywhere at the moment; retry shortly.",
            headers={"Retry-After": "5"},
        )
    try:
        db.session.commit()
    except Exception:
        with contextlib.suppress(Exception):  # the key lives on: take its tombstone back
            cache.delete(_cache_key(token_hash))
        raise


def grant_for(token: str) -> KeyGrant | None:
    """The grant of a presented key, or None for an unknown, deleted or expired one."""
    token_hash = hash_token(token)
    cached = _cache_get(token_hash)
    if cached == _REVOKED:
        return None
    if isinstance(cached, tuple) and len(cached) == 4:
        grant = KeyGrant(cached[0], cached[1], frozenset(cached[2]), cached[3], token_hash)
    else:
        row = db.session.execute(
            select(ApiKey.id, ApiKey.user_id, ApiKey.scopes, ApiKey.expires_at).where(
                ApiKey.token_hash == token_hash
            )
        ).first()
        if row is None:
            return None
        scopes = frozenset(row.scopes.split())
        grant = KeyGrant(row.id, row.user_id, scopes, _unix(row.expires_at), token_hash)
        _cache_add(token_hash, grant)
    return grant if grant.expires_at > time.time() else None


def touch(grant: KeyGrant) -> None:
    """Move the key's ``last_used_at``: at most one UPDATE a minute per process, and one
    that changes a row a minute over all of them (the conditional WHERE)."""
    touched: dict[str, float] = current_app.extensions.setdefault("myproject_keys_touched", {})
    now = time.monotonic()
    token_hash = grant.token_hash
    if now - touched.get(token_hash, -1e9) < TOUCH_EVERY.total_seconds():
        return
    if len(touched) > 10_000:
        touched.clear()
    touched[token_hash] = now
    moment = utcnow()
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == grant.key_id)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < moment - TOUCH_EVERY))
        .values(last_used_at=moment)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def purge_expired_keys(now: datetime) -> Any:
    """The statement that deletes expired keys (the housekeeping job runs it)."""
    return delete(ApiKey).where(ApiKey.expires_at < now)


def _unix(moment: datetime) -> float:
    return moment.timestamp()


def _shared_cache() -> bool:
    return bool(current_app.config.get("CACHE_TYPE") == "RedisCache")


def _cache_key(token_hash: str) -> str:
    return f"api-key:{token_hash}"


def _cache_get(token_hash: str) -> Any:
    if not _shared_cache():
        return None
    # The response cache's guard: after a Redis error, Redis is skipped for a moment.
    _, value = cache_call(lambda: cache.get(_cache_key(token_hash)))
    return value


def _cache_add(token_hash: str, grant: KeyGrant) -> None:
    if not _shared_cache():
        return
    ttl = max(1, min(CACHE_SECONDS, int(grant.expires_at - time.time())))
    value = (grant.key_id, grant.user_id, tuple(sorted(grant.scopes)), grant.expires_at)
    cache_call(lambda: cache.add(_cache_key(token_hash), value, timeout=ttl))


def _forget(token_hash: str) -> bool:
    """Put the key's tombstone in the shared cache; False when Redis did not take it. Tried
    even while reads skip Redis after an error: a revocation waits for no back-off."""
    if not _shared_cache():
        return True
    try:
        return bool(cache.set(_cache_key(token_hash), _REVOKED, timeout=TOMBSTONE_SECONDS))
    except Exception:  # redis errors of any kind
        return False
