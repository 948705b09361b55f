"""Operations that span models or need more than one statement, kept out of the views."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import func, select

from myproject.auth.sessions import revoke_user_sessions
from myproject.caching import invalidate
from myproject.exceptions import Conflict, UnprocessableEntity
from myproject.extensions import db
from myproject.models import Item, User

ADMIN_FIELDS = ("is_active", "is_admin")


def _ensure_unique(*, username: str | None, email: str | None, exclude_id: int | None) -> None:
    """Raise Conflict (409) naming the field when a username or email is taken."""
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
            raise Conflict(f"That {field} is already taken.")


def create_user(*, username: str, email: str, password: str) -> User:
    _ensure_unique(username=username, email=email, exclude_id=None)
    user = User.create(username=username, email=email.lower(), password=password)
    invalidate()
    return user


def update_user(*, user: User, caller: User, changes: dict[str, Any]) -> User:
    """Apply a PATCH. Raises UnprocessableEntity (422) for fields the caller may not set or a
    wrong ``current_password``, Conflict (409) for a taken username or email."""
    forbidden = [name for name in ADMIN_FIELDS if name in changes and not caller.is_admin]
    if forbidden:
        raise UnprocessableEntity(
            "The request contains invalid fields.",
            errors={"json": {name: ["Only an admin may set this field."] for name in forbidden}},
        )
    current_password = changes.pop("current_password", None)
    password = changes.pop("password", None)
    if password is not None and not caller.is_admin:
        if current_password is None or not user.check_password(current_password):
            raise UnprocessableEntity(
                "The current password is missing or wrong.",
                errors={"json": {"current_password": ["Must be your current password."]}},
            )
    _ensure_unique(username=changes.get("username"), email=changes.get("email"), exclude_id=user.id)
    if "email" in changes:
        changes["email"] = changes["email"].lower()
    for field, value in changes.items():
        setattr(user, field, value)
    if password is not None:
        user.set_password(password)
        # Every other login of this user ends; the caller's own login survives a self-change.
        keep = g.caller_session.id if caller.id == user.id else None
        revoke_user_sessions(user_id=user.id, keep_session_id=keep, commit=False)
    if changes.get("is_active") is False:
        revoke_user_sessions(user_id=user.id, commit=False)
    db.session.commit()
    invalidate()
    return user


def delete_user(*, user: User) -> None:
    """Delete the user; their items and login sessions go with them (ON DELETE CASCADE)."""
    user.delete()
    invalidate()


def create_item(*, owner: User, fields: dict[str, Any]) -> Item:
    item = Item.create(user=owner, **fields)
    invalidate()
    return item


def update_item(*, item: Item, fields: dict[str, Any]) -> Item:
    item.update(**fields)
    invalidate()
    return item


def delete_item(*, item: Item) -> None:
    item.delete()
    invalidate()
