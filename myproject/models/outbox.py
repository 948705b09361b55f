from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from myproject.models.base import TimestampModel, UTCDateTime


class OutboxEmail(TimestampModel):
    """One email to send, written in the transaction of the change that causes it.

    ``status`` moves pending -> sending (a worker claimed it) -> sent, back to pending for a
    retry, or to failed / skipped. It never holds a usable reset token: only the reset's id
    and ``nonce``, from which the job derives the token with ``SECRET_KEY``.

    ``user_id`` is empty only for a password reset request whose account the job has yet to
    look up (``data`` then holds the address asked for). ``data`` holds what a kind needs
    besides (a notice: what changed, when, from where, and to whom), never a secret.
    """

    __tablename__ = "outbox_emails"
    __table_args__ = (
        Index("ix_outbox_emails_status_next_attempt_at", "status", "next_attempt_at"),
    )

    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # A superseded or purged reset takes its unsent email with it.
    password_reset_id: Mapped[int | None] = mapped_column(
        ForeignKey("password_resets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # A superseded or purged verification leaves its email without a link: a verification
    # email is then skipped, a welcome email goes out without the link.
    email_verification_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_verifications.id", ondelete="SET NULL"), nullable=True, index=True
    )
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # W3C traceparent of the request that wrote the row (set only with tracing on): its job
    # joins that request's trace (myproject/tracing.py).
    traceparent: Mapped[str | None] = mapped_column(String(55), nullable=True)

    def __repr__(self) -> str:
        return f"<OutboxEmail {self.id} {self.kind} {self.status}>"
