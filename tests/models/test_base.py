"""CRUDMixin and TimestampMixin (myproject/models/base.py), exercised through User."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from myproject.models import User


def new_user(**kwargs):
    kwargs.setdefault("username", "bob")
    kwargs.setdefault("email", "bob@example.com")
    return User(**kwargs)


def reloaded(db, obj):
    db.session.expire(obj)
    return obj


@pytest.mark.parametrize(("commit", "survives_rollback"), [(True, True), (False, False)])
def test_create_commits_unless_commit_false(db, commit, survives_rollback):
    user = User.create(commit=commit, username="bob", email="bob@example.com")
    user_id = user.id

    db.session.rollback()

    assert user_id is not None  # flushed either way
    assert (db.session.get(User, user_id) is not None) is survives_rollback


def test_create_returns_the_new_instance(db):
    user = User.create(username="bob", email="bob@example.com")

    assert isinstance(user, User)
    assert db.session.get(User, user.id) is user


@pytest.mark.parametrize(
    ("commit", "expected"), [(True, "new@example.com"), (False, "bob@example.com")]
)
def test_update_commits_unless_commit_false(db, commit, expected):
    user = User.create(username="bob", email="bob@example.com")

    returned = user.update(commit=commit, email="new@example.com")
    db.session.rollback()

    assert returned is user
    assert reloaded(db, user).email == expected


@pytest.mark.parametrize(("commit", "survives_rollback"), [(True, True), (False, False)])
def test_save_commits_unless_commit_false(db, commit, survives_rollback):
    user = new_user()

    assert user.save(commit=commit) is user
    user_id = user.id
    db.session.rollback()

    assert (db.session.get(User, user_id) is not None) is survives_rollback


@pytest.mark.parametrize(("commit", "gone_after_rollback"), [(True, True), (False, False)])
def test_delete_commits_unless_commit_false(db, commit, gone_after_rollback):
    user = User.create(username="bob", email="bob@example.com")
    user_id = user.id

    user.delete(commit=commit)
    assert db.session.get(User, user_id) is None
    db.session.rollback()

    assert (db.session.get(User, user_id) is None) is gone_after_rollback


def test_timestamps_are_timezone_aware_utc(db):
    before = datetime.now(UTC)
    user = User.create(username="bob", email="bob@example.com")
    user = reloaded(db, user)

    for value in (user.created_at, user.updated_at):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=5) <= value <= datetime.now(UTC)


def test_new_row_has_updated_at_equal_to_created_at(db):
    user = reloaded(db, User.create(username="bob", email="bob@example.com"))

    assert user.updated_at == user.created_at


def test_update_moves_updated_at_but_not_created_at(db):
    long_ago = datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    user = User.create(username="bob", email="bob@example.com", created_at=long_ago)
    assert reloaded(db, user).updated_at == long_ago

    user.update(email="new@example.com")
    user = reloaded(db, user)

    assert user.created_at == long_ago
    assert user.updated_at > long_ago
    assert user.updated_at.utcoffset() == timedelta(0)


def test_aware_non_utc_datetime_is_stored_as_utc(db):
    plus_two = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    user = reloaded(db, User.create(username="bob", email="bob@example.com", created_at=plus_two))

    assert user.created_at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert user.created_at.utcoffset() == timedelta(0)


def test_naive_datetime_is_rejected(db):
    with pytest.raises(StatementError, match="naive datetime"):
        User.create(username="bob", email="bob@example.com", created_at=datetime(2026, 1, 1))
    db.session.rollback()
