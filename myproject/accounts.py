"""Account rules the domain shares with the HTTP layer: ending logins, and the password
reset and email verification tokens that a copy of the database alone never yields.

A reset or verification stores only the SHA-256 of its token, and its outbox row only a
random nonce. The token is HMAC-SHA256(SECRET_KEY, purpose + nonce): the email job derives it
when it composes the email (``myproject.jobs.emails``), and nothing else ever holds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Update, delete, select, update

from myproject import security_events
from myproject.ended_logins import mark_ended
from myproject.events import on_commit
from myproject.extensions import db
from myproject.models import EmailVerification, LoginSession, OutboxEmail, PasswordReset, User
from myproject.models.base import utcnow


def revoke_session(*, session_id: int) -> None:
    _end(
        update(LoginSession).where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
    )
    db.session.commit()


def revoke_user_sessions(
    *, user_id: int, keep_session_id: int | None = None, commit: bool = True
) -> None:
    """Revoke every live login of ``user_id``, except ``keep_session_id`` if given."""
    stmt = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if keep_session_id is not None:
        stmt = stmt.where(LoginSession.id != keep_session_id)
    _end(stmt)
    if commit:
        db.session.commit()


def invalidate_tokens(*, user_id: int) -> None:
    """Make every unused reset and verification token of ``user_id`` unusable (their unsent
    emails go with them): after a password or email change, a reset, a deactivation."""
    for model in (PasswordReset, EmailVerification):
        db.session.execute(
            delete(model)
            .where(model.user_id == user_id, model.used_at.is_(None))
            .execution_options(synchronize_session=False)
        )


def _end(stmt: Update) -> None:
    """Revoke the sessions ``stmt`` selects; once that commits, the rate limiter counts
    their tokens as anonymous (``myproject.ended_logins``)."""
    ended = db.session.scalars(
        stmt.values(revoked_at=utcnow())
        .returning(LoginSession.id)
        .execution_options(synchronize_session=False)
    ).all()
    if ended:
        on_commit(db.session, lambda: mark_ended(ended))


def derive_token(purpose: str, nonce: str) -> str:
    """The URL-safe token (43 characters of [A-Za-z0-9_-]) for ``nonce``."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"{purpose}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def derive_reset_token(nonce: str) -> str:
    return derive_token("password-reset", nonce)


def derive_verify_token(nonce: str) -> str:
    return derive_token("email-verify", nonce)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bind_password_reset(row: OutboxEmail) -> User | None:
    """The job's half of a reset request (the request itself only recorded the address, the
    same work for every address): find the active account with that address, supersede its
    older unused resets (their unsent emails go with them) and record this one on ``row``.
    None, with nothing recorded, for an unknown or inactive address."""
    email = (row.data or {}).get("email")
    origin = (row.data or {}).get("origin") or {}
    row.data = None  # the address asked for is kept no longer than this
    # Locking the user serialises concurrent jobs, so only the newest token stays live.
    user = None
    if isinstance(email, str):
        user = db.session.scalar(select(User).where(User.email == email).with_for_update())
    if user is None or not user.is_active or row.nonce is None:
        return None
    db.session.execute(
        delete(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    lifetime = timedelta(seconds=current_app.config["PASSWORD_RESET_EXPIRES"])
    reset = PasswordReset(
        user_id=user.id,
        token_hash=hash_token(derive_reset_token(row.nonce)),
        expires_at=utcnow() + lifetime,
    )
    db.session.add(reset)
    db.session.flush()
    row.user_id, row.password_reset_id = user.id, reset.id
    # Recorded here, not in the request: known and unknown addresses cost the request the same.
    security_events.record(
        security_events.PASSWORD_RESET_REQUESTED,
        user_id=user.id,
        ip=origin.get("ip"),
        user_agent=origin.get("user_agent"),
    )
    return user


def reset_token_for_email(*, password_reset_id: int | None, nonce: str | None) -> str | None:
    """The token to mail for an outbox row, or None when its reset can no longer be used.

    Raises RuntimeError when the token does not match its record (SECRET_KEY was changed).
    """
    reset = db.session.get(PasswordReset, password_reset_id) if password_reset_id else None
    return _token_for(reset, nonce, derive_reset_token)


def verify_token_for_email(*, email_verification_id: int | None, nonce: str | None) -> str | None:
    """As ``reset_token_for_email``, for an email verification."""
    record = None
    if email_verification_id is not None:
        record = db.session.get(EmailVerification, email_verification_id)
    return _token_for(record, nonce, derive_verify_token)


def _token_for(record: Any, nonce: str | None, derive: Any) -> str | None:
    if record is None or nonce is None or record.used_at is not None:
        return None
    if record.expires_at <= utcnow():
        return None
    token: str = derive(nonce)
    if not hmac.compare_digest(hash_token(token), record.token_hash):
        raise RuntimeError("token does not match its record: was SECRET_KEY changed?")
    return token
