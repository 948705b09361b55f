"""Email verification: a token mailed to the account's current address proves it is theirs.

Tokens are stored as a hash and bound to the address they were sent to (``EmailVerification``);
the email's outbox row carries a nonce from which the job derives the token
(``myproject.accounts``). A new verification supersedes the older unused ones; an email or
password change, a reset and a deactivation end them all (``accounts.invalidate_tokens``).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import security_events
from myproject.accounts import derive_verify_token, hash_token
from myproject.extensions import db
from myproject.jobs import emails, outbox
from myproject.models import EmailVerification, User
from myproject.models.base import utcnow

INVALID_TOKEN = "The verification token is invalid, used, superseded or expired."
ALREADY_VERIFIED = "The email address of this account is already verified."


def issue(*, user: User, kind: str = emails.VERIFY_EMAIL) -> None:
    """Record a verification of ``user``'s current address and the email that carries it
    (``welcome`` or ``verify_email``), in the caller's transaction; older unused ones stop
    working."""
    db.session.execute(
        delete(EmailVerification)
        .where(EmailVerification.user_id == user.id, EmailVerification.used_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    nonce = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=current_app.config["EMAIL_VERIFY_EXPIRES"])
    record = EmailVerification.create(
        user_id=user.id,
        email=user.email,
        token_hash=hash_token(derive_verify_token(nonce)),
        expires_at=utcnow() + lifetime,
        commit=False,
    )
    outbox.add_email(kind=kind, user_id=user.id, email_verification_id=record.id, nonce=nonce)


def resend(*, user: User) -> None:
    """A new verification email to the current address; 409 when it is verified already."""
    if user.email_verified:
        abort(409, message=ALREADY_VERIFIED)
    issue(user=user)
    db.session.commit()


def verify(*, token: str) -> None:
    """Mark the token's account verified. 400 for an unknown, used, superseded or expired
    token, one sent to another address than the account's, or an inactive account."""
    now = utcnow()
    record = db.session.scalar(
        select(EmailVerification).where(EmailVerification.token_hash == hash_token(token))
    )
    user = db.session.get(User, record.user_id) if record is not None else None
    if (
        record is None
        or user is None
        or not user.is_active
        or record.expires_at <= now
        or record.email != user.email
    ):
        abort(400, message=INVALID_TOKEN)
    # Conditional UPDATE: of two concurrent uses of one token, one wins.
    spent = db.session.execute(
        update(EmailVerification)
        .where(EmailVerification.id == record.id, EmailVerification.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        abort(400, message=INVALID_TOKEN)
    user.email_verified = True
    security_events.record(security_events.EMAIL_VERIFIED, user_id=user.id)
    db.session.commit()
