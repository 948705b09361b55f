from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from myproject.models.base import TimestampModel, UTCDateTime


class LoginSession(TimestampModel):
    """One successful login: both of its tokens carry this row's id in the ``sid`` claim.

    Revocation lives here, in the database, so it is durable and shared by every worker and
    instance. ``refresh_jti`` is the only refresh token of the login that may still be used.
    """

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_id_revoked_at", "user_id", "revoked_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    refresh_jti: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} user={self.user_id}>"
