"""Who may do what: the lookup-and-authorise helpers every write route uses."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from flask import current_app, g, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from myproject.exceptions import Forbidden, NotFound, PreconditionFailed
from myproject.extensions import db
from myproject.models import Item, User
from myproject.models.item import item_representation


def optional_caller() -> User | None:
    """The caller when a valid access token is sent, None without one (bad tokens: 401)."""
    if verify_jwt_in_request(optional=True) is None:
        return None
    caller: User | None = g.get("caller")
    return caller


def is_self_or_admin(caller: User | None, user: User) -> bool:
    return caller is not None and (caller.id == user.id or caller.is_admin)


def item_body(item: Any) -> bytes:
    """The JSON representation of an ``Item`` (or an item row), exactly as it is sent."""
    return current_app.json.dumps(item_representation(item)).encode()


def etag_of(body: bytes) -> str:
    """A strong ETag: changes whenever any byte of the representation changes."""
    return hashlib.sha256(body).hexdigest()[:32]


def check_if_match(current_etag: str) -> None:
    """Raise 412 when ``If-Match`` is sent and does not match (absent: the write proceeds)."""
    if "If-Match" not in request.headers:
        return
    condition = request.if_match
    if condition.star_tag or condition.contains(current_etag):
        return
    raise PreconditionFailed("The resource has changed since you read it (ETag mismatch).")


@functools.cache
def _item_row_by_id() -> Select[Any]:
    # Built once: constructing the statement (and its cache key) per request costs more
    # than running it.
    return (
        select(*Item.representation_columns())
        .join(User, User.id == Item.user_id)
        .where(Item.id == bindparam("item_id"))
    )


def get_item(item_id: int) -> Any:
    """The item's row (``Item.representation_columns()``) for reading; raises NotFound (404)."""
    item = db.session.execute(_item_row_by_id(), {"item_id": item_id}).first()
    if item is None:
        raise NotFound(f"Item {item_id} does not exist.")
    return item


def get_item_for_write(item_id: int) -> Item:
    """The item locked for update, if the caller owns it or is an admin.

    Raises NotFound (404), Forbidden (403), or PreconditionFailed (412) for a stale If-Match.
    """
    item = db.session.scalar(
        select(Item)
        .options(joinedload(Item.user).load_only(User.username))
        .where(Item.id == item_id)
        .with_for_update(of=Item)
    )
    if item is None:
        raise NotFound(f"Item {item_id} does not exist.")
    caller: User = current_user
    if item.user_id != caller.id and not caller.is_admin:
        raise Forbidden("Only the item's owner or an admin may change it.")
    check_if_match(etag_of(item_body(item)))
    return item


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def get_user_for_write(user_id: int) -> User:
    """The user, if the caller is that user or an admin. Raises NotFound, Forbidden."""
    user = get_user(user_id)
    caller: User = current_user
    if not is_self_or_admin(caller, user):
        raise Forbidden("Only the user themself or an admin may change this user.")
    return user
