"""Password reset: single-use tokens that a copy of the database alone never yields.

A request stores a reset record with only the SHA-256 of the token, and an outbox row with
only a random nonce. The token is HMAC-SHA256(SECRET_KEY, nonce): the email job makes it
when it composes the email, and nothing else ever holds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import outbox
from myproject.auth.sessions import revoke_user_sessions
from myproject.extensions import db
from myproject.models import PasswordReset, User
from myproject.models.base import utcnow

INVALID_TOKEN = "The reset token is invalid, used, superseded or expired."


def derive_token(nonce: str) -> str:
    """The URL-safe token (43 characters of [A-Za-z0-9_-]) for ``nonce``."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, b"password-reset:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(*, email: str) -> None:
    """Start a reset for the active account with ``email``, superseding older ones; do
    nothing for an unknown or inactive address (the caller answers the same either way)."""
    # Locking the user serialises concurrent requests, so only the newest token stays live.
    user = db.session.scalar(
        select(User).where(User.email == email.strip().lower()).with_for_update()
    )
    if user is None or not user.is_active:
        # No email is composed here for anyone (the job does that), so this path and the
        # one below differ by two inserts, not by an SMTP conversation.
        return
    # Older, unused requests stop working (their unsent emails go with them).
    db.session.execute(
        delete(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    )
    nonce = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=current_app.config["PASSWORD_RESET_EXPIRES"])
    reset = PasswordReset.create(
        user_id=user.id,
        token_hash=hash_token(derive_token(nonce)),
        expires_at=utcnow() + lifetime,
        commit=False,
    )
    outbox.add_email(
        kind=outbox.PASSWORD_RESET, user_id=user.id, password_reset_id=reset.id, nonce=nonce
    )
    db.session.commit()


def token_for_email(*, password_reset_id: int | None, nonce: str | None) -> str | None:
    """The token to mail for an outbox row, or None when its reset can no longer be used.

    Raises RuntimeError when the token does not match its record (SECRET_KEY was changed).
    """
    reset = db.session.get(PasswordReset, password_reset_id) if password_reset_id else None
    if reset is None or nonce is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    token = derive_token(nonce)
    if not hmac.compare_digest(hash_token(token), reset.token_hash):
        raise RuntimeError("reset token does not match its record: was SECRET_KEY changed?")
    return token


def confirm_reset(*, token: str, password: str) -> None:
    """Set the password of the token's account and end all its logins.

    Aborts with 400 for an unknown, used, superseded or expired token, or an inactive account.
    """
    now = utcnow()
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == hash_token(token))
    )
    user = db.session.get(User, reset.user_id) if reset is not None else None
    if reset is None or user is None or not user.is_active or reset.expires_at <= now:
        abort(400, message=INVALID_TOKEN)
    # Conditional UPDATE: of two concurrent confirmations with one token, one wins.
    spent = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        abort(400, message=INVALID_TOKEN)
    user.set_password(password)
    revoke_user_sessions(user_id=user.id, commit=False)
    db.session.commit()
