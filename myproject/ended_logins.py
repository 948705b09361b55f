"""Ended logins as the rate limiter sees them: one short-lived marker per ended login session.

The durable revocation is ``login_sessions.revoked_at`` in the database; checking it costs a
query, which a rate limit must not. So when a login ends (logout, logout-all, revocation,
password change or reset, deactivation, deletion), a marker
``<RATELIMIT_KEY_PREFIX>/ended-sid:<session id>`` is written to the limiter's storage (Redis in
production) once the change commits, and the limit script reads it in the same round trip as
the count (``myproject.ratelimit_window``): a token of that login then counts against the
anonymous bucket of its address.

A marker lives as long as an access token can (``JWT_ACCESS_TOKEN_EXPIRES``, plus a minute):
every access token of the session was issued before it ended, so none outlives the marker.
Without Redis the limiter counts in process memory, and so do the markers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from flask import current_app

log = logging.getLogger(__name__)

MARGIN = 60  # seconds of clock skew and JWT leeway


def marker_key(session_id: int | str) -> str:
    """Under the limiter's key prefix (``RATELIMIT_KEY_PREFIX``), like its counters: session
    ids are per database, and deployments (or test runs) sharing one Redis must not read each
    other's markers."""
    return f"{current_app.config.get('RATELIMIT_KEY_PREFIX') or ''}/ended-sid:{session_id}"


def marker_lifetime() -> int:
    expires = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    seconds = expires.total_seconds() if isinstance(expires, timedelta) else expires
    return int(seconds) + MARGIN


def mark_ended(session_ids: Iterable[int]) -> None:
    """Mark these login sessions as ended for the limiter (call after the commit)."""
    from myproject.extensions import limiter  # extensions imports this module's reader

    ids = list(session_ids)
    if not ids or not limiter.initialized:
        return
    lifetime = marker_lifetime()
    try:
        storage = limiter.storage
        for session_id in ids:
            storage.incr(marker_key(session_id), lifetime)
    except Exception as exc:  # the limiter's storage is down: revocation still holds
        log.warning("could not mark ended logins for the limiter (%s)", type(exc).__name__)
