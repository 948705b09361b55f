"""The Item model (myproject/models/item.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from myproject.models import Item
from myproject.schemas.item import ItemSchema


def test_to_dict_includes_owner_and_utc_timestamps(db, user):
    item = Item.create(name="lamp", description="A red lamp", category="tools", user=user)

    assert item.to_dict() == {
        "id": item.id,
        "name": "lamp",
        "description": "A red lamp",
        "category": "tools",
        "owner": {"id": user.id, "username": "alice"},
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }
    assert item.to_dict()["created_at"].endswith("+00:00")


def test_optional_fields_default_to_none(db, user):
    item = Item.create(name="lamp", user=user)
    db.session.expire(item)

    assert item.description is None
    assert item.category is None


def test_repr_shows_id_and_name(db, user):
    item = Item.create(name="lamp", user=user)

    assert repr(item) == f"<Item {item.id} 'lamp'>"


def test_item_user_is_the_owner(db, user):
    item = Item.create(name="lamp", user_id=user.id)
    db.session.expire(item)

    assert item.user is user
    assert item in user.items


def test_item_requires_an_owner(db):
    with pytest.raises(IntegrityError):
        Item.create(name="lamp")
    db.session.rollback()


def test_user_id_is_an_indexed_cascading_foreign_key():
    column = Item.__table__.c.user_id
    (foreign_key,) = column.foreign_keys

    assert column.index is True
    assert foreign_key.target_fullname == "users.id"
    assert foreign_key.ondelete == "CASCADE"


def test_to_dict_is_exactly_what_the_item_schema_documents(session, user):
    # The item routes answer with to_dict() (fast); ItemSchema documents the same body.
    item = Item.create(user=user, name="Lamp", description="brass", category="home")

    assert item.to_dict() == ItemSchema().dump(item)
