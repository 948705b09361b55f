"""Who may do what: the lookup-and-authorise helpers every route uses.

Each raises problem answers through ``abort``: 404 for a missing row, 403 for a caller who
may not write it, 412 for a stale ``If-Match``.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import g, request
from flask_jwt_extended import current_user
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject.api.responses import etag_of, item_body
from myproject.extensions import db
from myproject.models import Item, LoginSession, User
from myproject.models.item import ITEMS
from myproject.models.user import USERS


def optional_caller() -> User | None:
    """The caller when a valid access token was sent (``authenticated(optional=True)``)."""
    caller: User | None = g.get("caller")
    return caller


def caller_session() -> LoginSession | None:
    """The login session of the token that authenticated this request (None for an API key)."""
    session: LoginSession | None = g.get("caller_session")
    return session


def is_self_or_admin(caller: User | None, user: User) -> bool:
    return caller is not None and (caller.id == user.id or caller.is_admin)


def check_if_match(item: Item) -> None:
    """Abort with 412 when ``If-Match`` is sent and does not match the item's current ETag
    (absent: go ahead, without serialising the version about to be replaced)."""
    if "If-Match" not in request.headers:
        return
    condition = request.if_match
    if condition.star_tag or condition.contains(etag_of(item_body(item))):
        return
    abort(412, message="The resource has changed since you read it (ETag mismatch).")


@functools.cache
def _item_row_by_id() -> Select[Any]:
    # Built once: constructing the statement (and its cache key) per request costs more
    # than running it.
    return (
        select(*Item.dict_columns())
        .join(User, User.id == Item.user_id)
        .where(Item.id == bindparam("item_id"))
    )


def get_item(item_id: int) -> Any:
    """The item's row (``Item.dict_columns()``) for reading; 404 when missing."""
    item = db.session.execute(_item_row_by_id(), {"item_id": item_id}).first()
    if item is None:
        abort(404, message=ITEMS.not_found(item_id))
    return item


def get_item_for_write(item_id: int) -> Item:
    """The item locked for update, if the caller owns it or is an admin: 404, 403, 412."""
    item = db.session.scalar(
        select(Item)
        .options(joinedload(Item.user).load_only(User.username))
        .where(Item.id == item_id)
        .with_for_update(of=Item)
    )
    if item is None:
        abort(404, message=ITEMS.not_found(item_id))
    caller: User = current_user
    if item.user_id != caller.id and not caller.is_admin:
        abort(403, message=ITEMS.forbidden)
    check_if_match(item)
    return item


def get_user(user_id: int) -> User:
    """The user; 404 when missing."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, message=USERS.not_found(user_id))
    return user


def get_user_for_write(user_id: int) -> User:
    """The user, if the caller is that user or an admin: 404, 403."""
    user = get_user(user_id)
    if not is_self_or_admin(current_user, user):
        abort(403, message=USERS.forbidden)
    return user
