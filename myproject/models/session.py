from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from myproject.models.base import TimestampModel, UTCDateTime
from myproject.models.resource import Resource


class LoginSession(TimestampModel):
    """One successful login: both of its tokens carry this row's id in the ``sid`` claim.

    Revocation lives here, in the database, so it is durable and shared by every worker and
    instance. ``refresh_jti`` is the only refresh token of the login that may still be used.
    ``last_used_at`` moves at most once a minute; ``ip`` and ``user_agent`` are those of the
    login or its last refresh.
    """

    __tablename__ = "login_sessions"
    __allow_unmapped__ = True  # the plain attribute below is no column
    __table_args__ = (Index("ix_login_sessions_user_id_revoked_at", "user_id", "revoked_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    refresh_jti: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)

    # Set on the caller's own row when listing (not stored): the ``current`` field.
    current: bool = False

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} user={self.user_id}>"


def session_dict(session: LoginSession) -> dict[str, Any]:
    """The wire shape of a login (``LoginSessionSchema``)."""
    last_used = session.last_used_at or session.created_at
    return {
        "id": session.id,
        "created_at": session.created_at.isoformat(),
        "last_used_at": last_used.isoformat(),
        "ip": session.ip,
        "user_agent": session.user_agent,
        "current": session.current,
    }


SESSIONS = Resource(
    LoginSession,
    title="Login session",
    serialize=session_dict,
    view="sessions.SessionById",
    id_arg="session_id",
    forbidden="Only the login's own user may end it.",
    private=True,
)
