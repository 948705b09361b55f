"""Account rules the domain shares with the HTTP layer: ending logins, and the password
reset tokens that a copy of the database alone never yields.

A reset request stores only the SHA-256 of its token, and its outbox row only a random nonce.
The token is HMAC-SHA256(SECRET_KEY, nonce): the email job derives it when it composes the
email (``myproject.jobs.emails``), and nothing else ever holds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app
from sqlalchemy import Update, update

from myproject.ended_logins import mark_ended
from myproject.events import on_commit
from myproject.extensions import db
from myproject.models import LoginSession, PasswordReset
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


def derive_reset_token(nonce: str) -> str:
    """The URL-safe token (43 characters of [A-Za-z0-9_-]) for ``nonce``."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, b"password-reset:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reset_token_for_email(*, password_reset_id: int | None, nonce: str | None) -> str | None:
    """The token to mail for an outbox row, or None when its reset can no longer be used.

    Raises RuntimeError when the token does not match its record (SECRET_KEY was changed).
    """
    reset = db.session.get(PasswordReset, password_reset_id) if password_reset_id else None
    if reset is None or nonce is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    token = derive_reset_token(nonce)
    if not hmac.compare_digest(hash_token(token), reset.token_hash):
        raise RuntimeError("reset token does not match its record: was SECRET_KEY changed?")
    return token
