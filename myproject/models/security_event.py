"""The security event log: one append-only row per thing that happened to an account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from myproject.models.base import Model, UTCDateTime, utcnow
from myproject.models.resource import Resource

# Shown to admins only: the user's own listing leaves these keys out of ``detail``.
ADMIN_ONLY_DETAIL = ("old_email", "new_email")


class SecurityEvent(Model):
    """Written in the same transaction as the change it records (``myproject.security_events``)
    and never updated (the resource is ``append_only``); the scheduler purges it after
    ``SECURITY_EVENTS_DAYS``.

    ``user_id`` is deliberately no foreign key: the log outlives the account it is about.
    """

    __tablename__ = "security_events"
    __table_args__ = (
        # The caller's own listing (user_id, newest first, id as the tiebreaker), the admin
        # listing filtered by type, and the unfiltered admin listing and the retention purge.
        Index("ix_security_events_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_security_events_type_created_at_id", "type", "created_at", "id"),
        Index("ix_security_events_created_at_id", "created_at", "id"),
    )

    type: Mapped[str] = mapped_column(String(40), nullable=False)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)

    def __repr__(self) -> str:
        return f"<SecurityEvent {self.id} {self.type} user={self.user_id}>"


def security_event_dict(event: SecurityEvent, *, admin: bool = True) -> dict[str, Any]:
    """The one definition of an event's wire shape (``SecurityEventSchema`` documents it); an
    owner's view (``admin=False``) leaves out what only admins see."""
    detail = dict(event.detail or {})
    if not admin:
        for key in ADMIN_ONLY_DETAIL:
            detail.pop(key, None)
    return {
        "id": event.id,
        "type": event.type,
        "user_id": event.user_id,
        "actor_id": event.actor_id,
        "created_at": event.created_at.isoformat(),
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": detail,
    }


SECURITY_EVENTS = Resource(
    SecurityEvent,
    title="Security event",
    serialize=security_event_dict,
    view=None,  # listed only (GET /api/users/me/security-events, GET /api/security-events)
    id_arg=None,
    forbidden="Only an admin may list every user's security events.",
    private=True,
    append_only=True,
)
