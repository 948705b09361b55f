"""Fixtures: one app per test session, each test inside a rolled-back transaction.

``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` switch the suite to PostgreSQL / Redis. On
PostgreSQL a throwaway database is created for the run and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import scoped_session, sessionmaker

from myproject import create_app
from myproject.config import normalize_database_url
from myproject.extensions import cache
from myproject.extensions import db as _db
from myproject.models import Item, User
from tests.support import LONG_AGO, PASSWORD, AuthActions, TempDatabase

# Runs share a machine (DESIGN.md): on the Redis database of TEST_REDIS_URL, this run keeps
# its cache keys, its rate-limit counters and its Socket.IO channel under a prefix of its own
# (the servers and workers the tests start inherit it, and queue jobs on a queue named after
# it), and deletes them at the end.
RUN_PREFIX = os.environ.setdefault("REDIS_KEY_PREFIX", f"myproject-test-{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="session", autouse=True)
def _delete_this_runs_redis_keys() -> Iterator[None]:
    yield
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        with contextlib.suppress(redis.RedisError):
            for key in client.scan_iter(match=f"*{RUN_PREFIX}*"):  # and kombu's bindings
                client.delete(key)
        client.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield "sqlite://"
        return
    with TempDatabase(normalize_database_url(base)) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or None


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    application = create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url})
    with application.app_context():
        _db.create_all()
    yield application
    with application.app_context():
        _db.drop_all()
        _db.engine.dispose()


@pytest.fixture()
def db(app: Flask) -> Iterator[Any]:
    """The database, inside a transaction that is rolled back after the test.

    Commits in the code under test release SAVEPOINTs (SQLAlchemy 2's
    ``join_transaction_mode="create_savepoint"``), so nothing outlives the test.
    """
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        _db.session = scoped_session(factory, scopefunc=_app_context_id)
        cache.clear()
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()
            cache.clear()


def _app_context_id() -> int:
    from flask import current_app

    return id(current_app._get_current_object())  # type: ignore[attr-defined]


@pytest.fixture()
def session(db: Any) -> Any:
    return db.session


@pytest.fixture()
def client(app: Flask, db: Any) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def runner(app: Flask, db: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture()
def make_user(db: Any) -> Any:
    counter = iter(range(1, 10_000))

    def factory(username: str | None = None, **kwargs: Any) -> User:
        n = next(counter)
        username = username or f"user{n}_{uuid.uuid4().hex[:6]}"
        kwargs.setdefault("email", f"{username.lower()}@example.com")
        kwargs.setdefault("password", PASSWORD)
        return User.create(username=username, **kwargs)

    return factory


@pytest.fixture()
def user(make_user: Any) -> User:
    return make_user("alice", email="alice@example.com")


@pytest.fixture()
def admin(make_user: Any) -> User:
    return make_user("root", email="root@example.com", is_admin=True)


@pytest.fixture()
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture()
def auth_headers(auth: AuthActions, user: User) -> dict[str, str]:
    return auth.headers(user.username)


@pytest.fixture()
def other(make_user: Any) -> User:
    return make_user("bob", email="bob@example.com")


@pytest.fixture()
def other_headers(auth: AuthActions, other: User) -> dict[str, str]:
    return auth.headers(other.username)


@pytest.fixture()
def admin_headers(auth: AuthActions, admin: User) -> dict[str, str]:
    return auth.headers(admin.username)


@pytest.fixture()
def tokens(auth: AuthActions, user: User) -> dict[str, Any]:
    """The token pair of one fresh login of ``user`` (alice)."""
    return auth.login(user.username)


@pytest.fixture()
def make_item(session: Any) -> Any:
    def factory(owner: User, **fields: Any) -> Item:
        fields.setdefault("name", "Lamp")
        return Item.create(user=owner, **fields)

    return factory


@pytest.fixture()
def item(make_item: Any, user: User) -> Item:
    """Alice's item, created and last updated long ago."""
    return make_item(
        user,
        description="A desk lamp",
        category="lighting",
        created_at=LONG_AGO,
        updated_at=LONG_AGO,
    )


@pytest.fixture()
def sql_statements(db: Any) -> Iterator[list[str]]:
    """SQL statements run while the test body runs, without the fixture's SAVEPOINTs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture()
def restore_logging() -> Iterator[None]:
    """create_app reconfigures the root logger; put it back for the rest of the suite."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture()
def requires_redis(redis_url: str | None) -> str:
    if not redis_url:
        pytest.skip("needs Redis: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    return redis_url
