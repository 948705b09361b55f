"""Writes that span models, each one transaction: change with ``commit=False``, commit once.

What must follow a commit (cache invalidation, jobs, events) hangs off the commit itself
(``myproject.events``), never off these functions.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject.accounts import derive_reset_token, hash_token, revoke_user_sessions
from myproject.extensions import db
from myproject.jobs import emails, outbox
from myproject.models import Item, LoginSession, PasswordReset, User
from myproject.models.base import utcnow

ADMIN_FIELDS = ("is_active", "is_admin", "is_premium")
INVALID_RESET_TOKEN = "The reset token is invalid, used, superseded or expired."


def _ensure_unique(*, username: str | None, email: str | None, exclude_id: int | None) -> None:
    """Abort with 409 naming the field when a username or email is taken."""
    checks = []
    if username is not None:
        checks.append(("username", func.lower(User.username) == username.lower()))
    if email is not None:
        checks.append(("email", User.email == email.lower()))
    for field, condition in checks:
        stmt = select(User.id).where(condition)
        if exclude_id is not None:
            stmt = stmt.where(User.id != exclude_id)
        if db.session.scalar(stmt.limit(1)) is not None:
            # The field is named in detail: only a 422 problem carries "errors".
            abort(409, message=f"That {field} is already taken.")


def create_user(*, username: str, email: str, password: str, is_admin: bool = False) -> User:
    _ensure_unique(username=username, email=email, exclude_id=None)
    user = User.create(
        username=username, email=email, password=password, is_admin=is_admin, commit=False
    )
    # Written with the user, so the welcome email goes out if and only if the user exists.
    outbox.add_email(kind=emails.WELCOME, user_id=user.id)
    db.session.commit()
    return user


def update_user(
    *, user: User, caller: User, caller_session: LoginSession, changes: dict[str, Any]
) -> User:
    """Apply a PATCH. Aborts with 422 for fields the caller may not set or a wrong
    ``current_password``, with 409 for a taken username or email."""
    forbidden = [name for name in ADMIN_FIELDS if name in changes and not caller.is_admin]
    if forbidden:
        abort(
            422,
            message="The request contains invalid fields.",
            errors={"json": {name: ["Only an admin may set this field."] for name in forbidden}},
        )
    current_password = changes.pop("current_password", None)
    password = changes.pop("password", None)
    if password is not None and not caller.is_admin:
        if current_password is None or not user.check_password(current_password):
            abort(
                422,
                message="The current password is missing or wrong.",
                errors={"json": {"current_password": ["Must be your current password."]}},
            )
    _ensure_unique(username=changes.get("username"), email=changes.get("email"), exclude_id=user.id)
    user.update(**changes, commit=False)
    if password is not None:
        user.set_password(password)
        # Every other login of this user ends; the caller's own login survives a self-change.
        keep = caller_session.id if caller.id == user.id else None
        revoke_user_sessions(user_id=user.id, keep_session_id=keep, commit=False)
    if changes.get("is_active") is False:
        revoke_user_sessions(user_id=user.id, commit=False)
    db.session.commit()
    return user


def delete_user(*, user: User) -> None:
    """Delete the user; their items and login sessions go with them (ON DELETE CASCADE)."""
    revoke_user_sessions(user_id=user.id, commit=False)  # ends their logins for the limiter
    user.delete(commit=False)
    db.session.commit()


def request_password_reset(*, email: str) -> None:
    """Start a reset for the active account with ``email``, superseding older ones; do
    nothing for an unknown or inactive address (the caller answers the same either way).

    Only the token's hash and, in the outbox row, a nonce are stored (``myproject.accounts``).
    """
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
        token_hash=hash_token(derive_reset_token(nonce)),
        expires_at=utcnow() + lifetime,
        commit=False,
    )
    outbox.add_email(
        kind=emails.PASSWORD_RESET, user_id=user.id, password_reset_id=reset.id, nonce=nonce
    )
    db.session.commit()


def confirm_password_reset(*, token: str, password: str) -> None:
    """Set the password of the token's account and end all its logins.

    Aborts with 400 for an unknown, used, superseded or expired token, or an inactive account.
    """
    now = utcnow()
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == hash_token(token))
    )
    user = db.session.get(User, reset.user_id) if reset is not None else None
    if reset is None or user is None or not user.is_active or reset.expires_at <= now:
        abort(400, message=INVALID_RESET_TOKEN)
    # Conditional UPDATE: of two concurrent confirmations with one token, one wins.
    spent = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        abort(400, message=INVALID_RESET_TOKEN)
    user.set_password(password)
    revoke_user_sessions(user_id=user.id, commit=False)
    db.session.commit()


def create_item(*, owner: User, fields: dict[str, Any]) -> Item:
    item = Item.create(user=owner, **fields, commit=False)
    db.session.commit()
    return item


def update_item(*, item: Item, fields: dict[str, Any]) -> Item:
    item.update(**fields, commit=False)
    db.session.commit()
    return item


def delete_item(*, item: Item) -> None:
    item.delete(commit=False)
    db.session.commit()
