"""Writes that span models, each one transaction: change with ``commit=False``, commit once.

What must follow a commit (cache invalidation, jobs, events) hangs off the commit itself
(``myproject.events``), never off these functions.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select, update
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import security_events, verification
from myproject.accounts import hash_token, invalidate_tokens, revoke_user_sessions
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
    # Written with the user, so the welcome email (with its verification link) goes out if
    # and only if the user exists.
    verification.issue(user=user, kind=emails.WELCOME)
    db.session.commit()
    return user


def update_user(
    *,
    user: User,
    caller: User,
    caller_session: LoginSession | None,
    changes: dict[str, Any],
    ip: str | None = None,
) -> User:
    """Apply a PATCH. Aborts with 422 for fields the caller may not set or a wrong
    ``current_password``, with 409 for a taken username or email. ``ip``: the caller's
    address as the rate limiter sees it, for the notice email."""
    forbidden = [name for name in ADMIN_FIELDS if name in changes and not caller.is_admin]
    if forbidden:
        abort(
            422,
            message="The request contains invalid fields.",
            errors={"json": {name: ["Only an admin may set this field."] for name in forbidden}},
        )
    current_password = changes.pop("current_password", None)
    password = changes.pop("password", None)
    old_email = user.email
    new_email = changes.get("email")
    email_changes = new_email is not None and new_email.strip().lower() != old_email
    _check_current_password(user, caller, current_password, password is not None or email_changes)
    _ensure_unique(username=changes.get("username"), email=new_email, exclude_id=user.id)
    before = {name: getattr(user, name) for name in (*changes, "email")}
    user.update(**changes, commit=False)
    if password is not None:
        user.set_password(password)
        # Every other login of this user ends; the caller's own login survives a self-change.
        keep = caller_session.id if caller_session and caller.id == user.id else None
        revoke_user_sessions(user_id=user.id, keep_session_id=keep, commit=False)
    if changes.get("is_active") is False:
        revoke_user_sessions(user_id=user.id, commit=False)
    if password is not None or email_changes or changes.get("is_active") is False:
        invalidate_tokens(user_id=user.id)
    if email_changes:
        user.email_verified = False
        notify(user=user, change="email", to=old_email, ip=ip)
        verification.issue(user=user)
    if password is not None:
        notify(user=user, change="password", to=old_email, ip=ip)
    changed = [name for name in changes if getattr(user, name) != before[name]]
    security_events.record_user_changes(
        user=user,
        actor=caller,
        changed=[*changed, *(["password"] if password is not None else [])],
        old_email=before["email"],
    )
    db.session.commit()
    return user


def _check_current_password(
    user: User, caller: User, current_password: str | None, needed: bool
) -> None:
    """A change of one's own password or email needs the current password (422 naming it);
    an admin changing another user needs none. A stolen access token alone takes nothing."""
    if not needed or (caller.is_admin and caller.id != user.id):
        return
    if current_password is None or not user.check_password(current_password):
        abort(
            422,
            message="The current password is missing or wrong.",
            errors={"json": {"current_password": ["Must be your current password."]}},
        )


def notify(*, user: User, change: str, to: str, ip: str | None) -> None:
    """Record the notice email of an account change, to the address ``to`` the account had
    before it: what changed, when, from which address (no secret, no link)."""
    data = {"to": to, "change": change, "at": utcnow().isoformat(), "ip": ip}
    outbox.add_email(kind=emails.ACCOUNT_NOTICE, user_id=user.id, data=data)


def delete_user(*, user: User, actor: User | None = None) -> None:
    """Delete the user; their items and login sessions go with them (ON DELETE CASCADE).
    Their security events stay (``actor``: who deleted them).

    The items are deleted through the session first, so that each is a recorded change:
    after the commit, Socket.IO announces ``item.deleted`` for each and the cache drops it,
    as deleting each item would."""
    for item in list(db.session.scalars(select(Item).where(Item.user_id == user.id))):
        db.session.delete(item)
    revoke_user_sessions(user_id=user.id, commit=False)  # ends their logins for the limiter
    security_events.record(
        security_events.USER_DELETED, user_id=user.id, actor_id=actor.id if actor else None
    )
    user.delete(commit=False)
    db.session.commit()


def request_password_reset(*, email: str) -> None:
    """Record a reset request for ``email``: the same single insert whether or not an account
    has that address, so the answer takes the same time. The job looks the account up, makes
    the token and sends the email (``accounts.bind_password_reset``); for an unknown or
    inactive address it sends nothing. Only the token's hash and a nonce are ever stored."""
    outbox.add_email(
        kind=emails.PASSWORD_RESET,
        user_id=None,
        nonce=secrets.token_urlsafe(32),
        data={"email": email.strip().lower(), "origin": security_events.current_origin_dict()},
    )
    db.session.commit()


def confirm_password_reset(*, token: str, password: str, ip: str | None = None) -> None:
    """Set the password of the token's account, end all its logins, make its other tokens
    unusable and tell its address.

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
    invalidate_tokens(user_id=user.id)
    notify(user=user, change="password_reset", to=user.email, ip=ip)
    security_events.record(security_events.PASSWORD_RESET, user_id=user.id)
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
