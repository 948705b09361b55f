"""The User model (myproject/models/user.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from myproject.models import Item, User
from tests.support import PASSWORD


def count_items(db, user_id):
    return db.session.scalar(select(func.count()).select_from(Item).where(Item.user_id == user_id))


def test_users_with_different_usernames_can_coexist(db):
    alice = User.create(username="alice", email="alice@example.com")
    bob = User.create(username="bob", email="bob@example.com")

    assert {alice.id, bob.id} == set(db.session.scalars(select(User.id)))


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
def test_duplicate_username_is_rejected_ignoring_case(db, user, username):
    with pytest.raises(IntegrityError) as excinfo:
        User.create(username=username, email="other@example.com")

    assert "uq_users_username_lower" in str(excinfo.value.orig)
    db.session.rollback()


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@Example.com"])
def test_duplicate_email_is_rejected(db, user, email):
    with pytest.raises(IntegrityError) as excinfo:
        User.create(username="someone-else", email=email)

    assert "email" in str(excinfo.value.orig)
    db.session.rollback()


def test_email_is_stored_lower_case_and_trimmed(db):
    user = User.create(username="bob", email="  Bob@Example.COM ")
    db.session.expire(user)

    assert user.email == "bob@example.com"


def test_repr_names_the_user(db):
    assert repr(User(username="alice", email="alice@example.com")) == "<User alice>"


def test_set_password_stores_a_hash_not_the_password(db):
    user = User(username="bob", email="bob@example.com")
    user.set_password(PASSWORD)

    assert user.password_hash
    assert PASSWORD not in user.password_hash


def test_check_password_accepts_only_the_right_password(db):
    user = User(username="bob", email="bob@example.com", password=PASSWORD)

    assert user.check_password(PASSWORD) is True
    assert user.check_password(PASSWORD.upper()) is False
    assert user.check_password("") is False


def test_user_without_password_never_matches(db):
    user = User.create(username="bob", email="bob@example.com")

    assert user.password_hash == ""
    assert user.check_password("") is False


def test_password_needs_rehash_when_method_changes(app, db, monkeypatch):
    user = User(username="bob", email="bob@example.com", password=PASSWORD)
    assert user.password_needs_rehash() is False

    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:2000")

    assert user.password_needs_rehash() is True
    user.set_password(PASSWORD)
    assert user.password_needs_rehash() is False


def test_to_dict_public_has_only_public_fields(user):
    data = user.to_dict()

    assert data == {
        "id": user.id,
        "username": "alice",
        "created_at": user.created_at.isoformat(),
    }
    assert data["created_at"].endswith("+00:00")


def test_to_dict_private_adds_account_fields(user):
    data = user.to_dict(private=True)

    assert data == {
        "id": user.id,
        "username": "alice",
        "created_at": user.created_at.isoformat(),
        "email": "alice@example.com",
        "email_verified": False,
        "is_active": True,
        "is_admin": False,
        "is_premium": False,
        "updated_at": user.updated_at.isoformat(),
    }
    assert "password_hash" not in data


def test_items_relationship_lists_the_users_items_in_id_order(db, user):
    first = Item.create(name="lamp", user=user)
    second = Item.create(name="chair", user_id=user.id)
    db.session.expire(user)

    assert user.items == [first, second]
    assert first in user.items
    assert second.user is user


def test_item_in_user_items_is_false_for_someone_elses_item(db, user, make_user):
    other = make_user("bob")
    item = Item.create(name="lamp", user=other)

    assert item not in user.items
    assert item in other.items


@pytest.mark.parametrize("items_loaded", [True, False])
def test_deleting_user_through_session_deletes_their_items(db, user, items_loaded):
    Item.create(name="lamp", user=user)
    Item.create(name="chair", user=user)
    user_id = user.id
    db.session.expire(user)
    if items_loaded:
        assert len(user.items) == 2

    user.delete()

    assert db.session.get(User, user_id) is None
    assert count_items(db, user_id) == 0


def test_core_delete_of_user_cascades_in_the_database(db, user):
    Item.create(name="lamp", user=user)
    user_id = user.id

    db.session.execute(delete(User).where(User.id == user_id))

    assert count_items(db, user_id) == 0


def test_item_for_missing_user_violates_foreign_key(db):
    with pytest.raises(IntegrityError):
        Item.create(name="orphan", user_id=999_999)
    db.session.rollback()


def test_sqlite_foreign_keys_are_enforced(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite-only PRAGMA")

    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
