"""The security event log (docs/security.md "Security events"): what happened to an account,
recorded in the same transaction as the change itself.

``record(type, user_id=...)`` adds one row to the current database session and commits
nothing: the commit of the unit of work it is part of writes both, and a rollback drops both.
Call it before the function that commits (``services``, ``accounts``). ``TYPES`` is the one
list of event types; the API refuses any other in its ``type`` filter.

Where a request came from (its address as the rate limiter sees it, and its User-Agent) is
an ``Origin`` the HTTP layer sets for the duration of each request (``origin_of_requests``).
It travels in a context variable rather than as an argument: the events are recorded deep
inside services that several entry points share (routes, the JWT callbacks, CLI commands),
and threading one more parameter through each of them would change every signature for a
value the domain only copies into a row. A context variable is not ``flask.g``: the domain
never learns about requests, and outside one (jobs, the CLI) the origin is simply unknown.
Each request runs in its own context (thread or greenlet), and the HTTP layer resets the
variable when the request ends, so no origin leaks into the next request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from myproject.extensions import db
from myproject.models.base import utcnow
from myproject.models.security_event import SecurityEvent

LOGIN = "login"
LOGIN_FAILED = "login_failed"  # for an existing account only
LOGOUT = "logout"
LOGOUT_ALL = "logout_all"
TOKEN_REUSE_DETECTED = "token_reuse_detected"
SESSION_REVOKED = "session_revoked"
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET_REQUESTED = "password_reset_requested"
PASSWORD_RESET = "password_reset"
EMAIL_CHANGED = "email_changed"  # detail: old_email, new_email (admins only)
EMAIL_VERIFIED = "email_verified"
API_KEY_CREATED = "api_key_created"
API_KEY_REVOKED = "api_key_revoked"
USER_UPDATED_BY_ADMIN = "user_updated_by_admin"  # detail: fields (their names)
USER_DEACTIVATED = "user_deactivated"
USER_DELETED = "user_deleted"

# Every type, in the contract's order (docs/API.md "Security events").
TYPES = (
    LOGIN,
    LOGIN_FAILED,
    LOGOUT,
    LOGOUT_ALL,
    TOKEN_REUSE_DETECTED,
    SESSION_REVOKED,
    PASSWORD_CHANGED,
    PASSWORD_RESET_REQUESTED,
    PASSWORD_RESET,
    EMAIL_CHANGED,
    EMAIL_VERIFIED,
    API_KEY_CREATED,
    API_KEY_REVOKED,
    USER_UPDATED_BY_ADMIN,
    USER_DEACTIVATED,
    USER_DELETED,
)
# ``detail`` is for ids, names and addresses: never a secret. A key that smells of one is
# refused outright, so a careless caller fails in its tests instead of leaking in production.
SECRET_WORDS = ("password", "token", "hash", "secret")

MAX_USER_AGENT = 512
MAX_IP = 64


@dataclass(frozen=True)
class Origin:
    """Where a request came from: its address (as the rate limiter sees it) and User-Agent."""

    ip: str | None = None
    user_agent: str | None = None


_UNKNOWN = Origin()
_origin: ContextVar[Origin | None] = ContextVar("security_event_origin", default=None)


@contextmanager
def origin_of_requests(origin: Origin) -> Iterator[None]:
    """Events recorded inside this block come from ``origin``."""
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)


def set_origin(origin: Origin) -> Any:
    """Set the origin until ``reset_origin(token)`` (for request hooks, which cannot use a
    ``with`` block); returns the token."""
    return _origin.set(origin)


def reset_origin(token: Any) -> None:
    _origin.reset(token)


def current_origin() -> Origin:
    return _origin.get() or _UNKNOWN


def current_origin_dict() -> dict[str, str | None]:
    """The current origin as JSON-ready data, for work a job finishes later."""
    origin = current_origin()
    return {"ip": origin.ip, "user_agent": origin.user_agent}


def _clean(text: str | None, limit: int) -> str | None:
    # NUL and lone surrogates cannot be stored (PostgreSQL refuses them); the rest is kept.
    if text is None:
        return None
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:limit]
    return text or None


def record(
    type: str,  # noqa: A002  (the event's "type", as the API names it)
    *,
    user_id: int,
    actor_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> SecurityEvent:
    """Add an event about ``user_id`` to the current transaction (no commit of its own).

    ``actor_id``: who did it, when someone signed in did (None: anonymous or the system).
    ``ip`` and ``user_agent`` default to the current origin (set by the HTTP layer).
    """
    if type not in TYPES:
        raise ValueError(f"unknown security event type {type!r}")
    secret = [k for k in detail or {} if any(word in k.lower() for word in SECRET_WORDS)]
    if secret:
        raise ValueError(f"security event detail must hold no secret: {secret}")
    origin = current_origin()
    event = SecurityEvent(
        type=type,
        user_id=user_id,
        actor_id=actor_id,
        detail=dict(detail or {}),
        ip=_clean(ip if ip is not None else origin.ip, MAX_IP),
        user_agent=_clean(
            user_agent if user_agent is not None else origin.user_agent, MAX_USER_AGENT
        ),
    )
    db.session.add(event)
    return event


def purge(*, older_than_days: int) -> int:
    """Delete the events older than the retention; returns how many went (committed)."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    result = db.session.execute(delete(SecurityEvent).where(SecurityEvent.created_at < cutoff))
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def record_user_changes(*, user: Any, actor: Any, changed: Sequence[str], old_email: str) -> None:
    """The events of a PATCH of ``user`` by ``actor`` that changed the fields ``changed``
    (their names; ``password`` when a new one was set)."""
    by = {"user_id": user.id, "actor_id": actor.id}
    if "password" in changed:
        record(PASSWORD_CHANGED, **by)
    if "email" in changed:
        record(EMAIL_CHANGED, **by, detail={"old_email": old_email, "new_email": user.email})
    if "is_active" in changed and not user.is_active:
        record(USER_DEACTIVATED, **by)
    if changed and actor.is_admin and actor.id != user.id:
        record(USER_UPDATED_BY_ADMIN, **by, detail={"fields": sorted(changed)})
