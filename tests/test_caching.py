"""Response caching (API.md "Caching"): fresh after writes, never leaks private fields.

The default lane uses an app on SimpleCache. The Redis lane builds several apps on one Redis,
which behave like several instances of the service sharing its cache.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from myproject import caching, create_app
from myproject.extensions import cache
from myproject.models import Item
from tests.support import DEAD_REDIS, PASSWORD, REDIS_TIMEOUTS, TcpProxy, wait_for

AppFactory = Callable[..., Flask]


@pytest.fixture()
def make_app(db: Any, database_url: str) -> Iterator[AppFactory]:
    """Apps without rate limits on SimpleCache, or on the Redis at ``redis``.

    Apps made in one test share a cache key prefix (like instances of one deployment) that no
    other test or concurrent run uses.
    """
    prefix = f"{os.environ['REDIS_KEY_PREFIX']}-cache-{uuid.uuid4().hex}:"
    on_redis: list[Flask] = []

    def factory(redis: str | None = None, **overrides: Any) -> Flask:
        settings: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RATELIMIT_ENABLED": False,
            "REDIS_URL": None,
            "CACHE_TYPE": "SimpleCache",
            "CACHE_OPTIONS": None,
            "CACHE_KEY_PREFIX": prefix,
        }
        if redis is not None:
            settings.update(
                REDIS_URL=redis,
                CACHE_TYPE="RedisCache",
                CACHE_REDIS_URL=redis,
                CACHE_OPTIONS=dict(REDIS_TIMEOUTS),
            )
        app = create_app("testing", {**settings, **overrides})
        if redis is not None and redis != DEAD_REDIS:
            on_redis.append(app)
        return app

    yield factory
    if on_redis:
        with on_redis[0].app_context():
            cache.clear()  # this test's keys only (its prefix)


@pytest.fixture()
def web(make_app: AppFactory) -> FlaskClient:
    return make_app().test_client()


def create_item(client: FlaskClient, headers: dict[str, str], name: str = "lamp") -> int:
    response = client.post("/api/items", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.get_json()
    item_id: int = response.get_json()["id"]
    return item_id


def rename_behind_the_api(session: Any, item_id: int, name: str) -> None:
    """Change a row without going through the API, so no cache entry is invalidated."""
    session.execute(update(Item).where(Item.id == item_id).values(name=name))
    session.commit()


# --- SimpleCache: one instance ------------------------------------------------------------


def test_repeated_read_is_served_from_the_cache(web, auth_headers, session):
    item_id = create_item(web, auth_headers, "lamp")
    assert web.get(f"/api/items/{item_id}").get_json()["name"] == "lamp"
    rename_behind_the_api(session, item_id, "changed behind the cache")

    response = web.get(f"/api/items/{item_id}")

    assert response.status_code == 200
    assert response.get_json()["name"] == "lamp"


def test_item_update_is_visible_on_the_next_read(web, auth_headers):
    item_id = create_item(web, auth_headers, "lamp")
    assert web.get(f"/api/items/{item_id}").get_json()["name"] == "lamp"
    patched = web.patch(f"/api/items/{item_id}", json={"name": "desk"}, headers=auth_headers)
    assert patched.status_code == 200

    response = web.get(f"/api/items/{item_id}")

    assert response.status_code == 200
    assert response.get_json()["name"] == "desk"
    assert response.headers["ETag"] == patched.headers["ETag"]


def test_item_delete_is_visible_on_the_next_read(web, auth_headers):
    item_id = create_item(web, auth_headers)
    assert web.get(f"/api/items/{item_id}").status_code == 200
    assert web.delete(f"/api/items/{item_id}", headers=auth_headers).status_code == 204

    response = web.get(f"/api/items/{item_id}")

    assert response.status_code == 404


def test_list_includes_a_created_item_and_the_new_total(web, auth_headers):
    before = web.get("/api/items")
    assert before.status_code == 200
    item_id = create_item(web, auth_headers)

    response = web.get("/api/items")

    assert response.status_code == 200
    assert item_id in [item["id"] for item in response.get_json()]
    assert int(response.headers["X-Total-Count"]) == int(before.headers["X-Total-Count"]) + 1


def test_user_rename_shows_in_the_items_owner(web, auth_headers, user):
    item_id = create_item(web, auth_headers)
    assert web.get(f"/api/items/{item_id}").get_json()["owner"]["username"] == user.username
    renamed = web.patch(f"/api/users/{user.id}", json={"username": "alicia"}, headers=auth_headers)
    assert renamed.status_code == 200

    response = web.get(f"/api/items/{item_id}")

    assert response.status_code == 200
    assert response.get_json()["owner"] == {"id": user.id, "username": "alicia"}


def test_registration_shows_in_the_user_list(web):
    assert web.get("/api/users").status_code == 200
    body = {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD}
    assert web.post("/api/users", json=body).status_code == 201

    response = web.get("/api/users")

    assert response.status_code == 200
    assert "newcomer" in [u["username"] for u in response.get_json()]


def test_private_read_is_not_served_to_an_anonymous_caller(web, auth_headers, user):
    private = web.get(f"/api/users/{user.id}", headers=auth_headers)
    assert private.get_json()["email"] == user.email

    response = web.get(f"/api/users/{user.id}")

    assert response.status_code == 200
    assert "email" not in response.get_json()


def test_cached_public_read_is_not_served_to_the_user_themself(web, auth_headers, user):
    assert "email" not in web.get(f"/api/users/{user.id}").get_json()

    response = web.get(f"/api/users/{user.id}", headers=auth_headers)

    assert response.status_code == 200
    assert response.get_json()["email"] == user.email


def test_private_read_with_a_cookie_token_is_not_served_to_others(make_app, user):
    # JWT_TOKEN_LOCATION may include cookies (config.py): the caller then sends no
    # Authorization header, yet gets the private representation.
    app = make_app(JWT_TOKEN_LOCATION=["headers", "cookies"])
    owner = app.test_client()
    login = owner.post("/auth/token", json={"username": user.username, "password": PASSWORD})
    assert login.status_code == 200
    assert owner.get(f"/api/users/{user.id}").get_json()["email"] == user.email

    response = app.test_client().get(f"/api/users/{user.id}")

    assert response.status_code == 200
    assert "email" not in response.get_json()


def test_if_none_match_gets_304_from_the_cache(web, auth_headers, session):
    item_id = create_item(web, auth_headers)
    etag = web.get(f"/api/items/{item_id}").headers["ETag"]
    rename_behind_the_api(session, item_id, "not seen: the next answer is the cached one")

    response = web.get(f"/api/items/{item_id}", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag


def test_stale_if_none_match_gets_the_cached_200(web, auth_headers):
    item_id = create_item(web, auth_headers)
    first = web.get(f"/api/items/{item_id}")

    response = web.get(f"/api/items/{item_id}", headers={"If-None-Match": '"outdated"'})

    assert response.status_code == 200
    assert response.get_json() == first.get_json()


# --- Redis: several instances share one cache ---------------------------------------------


def test_instances_share_the_cache(make_app, requires_redis, auth_headers, session):
    a, b = make_app(requires_redis).test_client(), make_app(requires_redis).test_client()
    item_id = create_item(a, auth_headers, "lamp")
    assert a.get(f"/api/items/{item_id}").get_json()["name"] == "lamp"
    rename_behind_the_api(session, item_id, "changed behind the cache")

    response = b.get(f"/api/items/{item_id}")

    assert response.status_code == 200
    assert response.get_json()["name"] == "lamp"


def test_update_on_one_instance_is_fresh_on_another(make_app, requires_redis, auth_headers):
    a, b = make_app(requires_redis).test_client(), make_app(requires_redis).test_client()
    item_id = create_item(a, auth_headers, "lamp")
    assert b.get(f"/api/items/{item_id}").get_json()["name"] == "lamp"
    assert (
        a.patch(f"/api/items/{item_id}", json={"name": "desk"}, headers=auth_headers).status_code
        == 200
    )

    response = b.get(f"/api/items/{item_id}")

    assert response.status_code == 200
    assert response.get_json()["name"] == "desk"


def test_delete_on_one_instance_is_fresh_on_another(make_app, requires_redis, auth_headers):
    a, b = make_app(requires_redis).test_client(), make_app(requires_redis).test_client()
    item_id = create_item(a, auth_headers)
    assert b.get(f"/api/items/{item_id}").status_code == 200
    assert a.delete(f"/api/items/{item_id}", headers=auth_headers).status_code == 204

    response = b.get(f"/api/items/{item_id}")

    assert response.status_code == 404


def test_list_after_create_on_another_instance_is_fresh(make_app, requires_redis, auth_headers):
    a, b = make_app(requires_redis).test_client(), make_app(requires_redis).test_client()
    before = b.get("/api/items")
    item_id = create_item(a, auth_headers)

    response = b.get("/api/items")

    assert response.status_code == 200
    assert item_id in [item["id"] for item in response.get_json()]
    assert int(response.headers["X-Total-Count"]) == int(before.headers["X-Total-Count"]) + 1


def test_private_read_is_never_cached_for_another_instance(
    make_app, requires_redis, auth_headers, user
):
    a, b = make_app(requires_redis).test_client(), make_app(requires_redis).test_client()
    assert a.get(f"/api/users/{user.id}", headers=auth_headers).get_json()["email"] == user.email

    response = b.get(f"/api/users/{user.id}")

    assert response.status_code == 200
    assert "email" not in response.get_json()


def test_cached_public_read_is_not_served_privately_elsewhere(
    make_app, requires_redis, auth_headers, user
):
    a, b = make_app(requires_redis).test_client(), make_app(requires_redis).test_client()
    assert "email" not in a.get(f"/api/users/{user.id}").get_json()

    response = b.get(f"/api/users/{user.id}", headers=auth_headers)

    assert response.status_code == 200
    assert response.get_json()["email"] == user.email


def test_if_none_match_gets_304_from_the_shared_cache(make_app, requires_redis, auth_headers):
    a, b = make_app(requires_redis).test_client(), make_app(requires_redis).test_client()
    item_id = create_item(a, auth_headers)
    etag = a.get(f"/api/items/{item_id}").headers["ETag"]

    response = b.get(f"/api/items/{item_id}", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.headers["ETag"] == etag


# --- Redis outages ------------------------------------------------------------------------


def test_instance_answers_reads_and_writes_while_redis_is_down(
    make_app, requires_redis, auth_headers
):
    up = make_app(requires_redis).test_client()
    item_id = create_item(up, auth_headers, "lamp")
    assert up.get(f"/api/items/{item_id}").status_code == 200

    down = make_app(DEAD_REDIS).test_client()
    patched = down.patch(f"/api/items/{item_id}", json={"name": "desk"}, headers=auth_headers)
    reads = [down.get(f"/api/items/{item_id}"), down.get("/api/items"), down.get("/api/users")]

    assert patched.status_code == 200
    assert [r.status_code for r in reads] == [200, 200, 200]
    assert reads[0].get_json()["name"] == "desk"


def test_ready_reports_redis_state(make_app, requires_redis):
    up = make_app(requires_redis).test_client().get("/health/ready")
    down = make_app(DEAD_REDIS).test_client().get("/health/ready")

    assert (up.status_code, down.status_code) == (200, 200)
    assert up.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    assert down.get_json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "unavailable"},
    }


@contextmanager
def redis_outage(app: Flask) -> Iterator[None]:
    """Point ``app``'s cache client at a closed port, then back at the real Redis."""
    backend = app.extensions["cache"][cache]
    real = backend._write_client, backend._read_client
    dead = backend._write_client.from_url(DEAD_REDIS, **REDIS_TIMEOUTS)
    backend._write_client = backend._read_client = dead
    try:
        yield
    finally:
        backend._write_client, backend._read_client = real


def test_instance_drops_pre_outage_entries_after_its_outage(
    make_app, requires_redis, auth_headers, monkeypatch
):
    # What caching.py guarantees: an instance that saw the outage (here: a write whose
    # invalidation failed) replaces the data version on its first successful call afterwards.
    monkeypatch.setattr(caching, "RETRY_AFTER_FAILURE", 0.0)  # retry Redis at once
    app = make_app(requires_redis)
    client = app.test_client()
    item_id = create_item(client, auth_headers, "lamp")
    assert client.get(f"/api/items/{item_id}").get_json()["name"] == "lamp"
    with redis_outage(app):
        patched = client.patch(f"/api/items/{item_id}", json={"name": "desk"}, headers=auth_headers)
    assert patched.status_code == 200

    response = client.get(f"/api/items/{item_id}")

    assert response.status_code == 200
    assert response.get_json()["name"] == "desk"


def test_partitioned_write_is_stale_elsewhere_for_at_most_the_cache_timeout(
    make_app, requires_redis, auth_headers
):
    # The documented bound: a write on an instance cut off from Redis cannot replace the
    # version token, so another instance may serve its older entry until the entry expires.
    # Every stored entry therefore carries the CACHE_DEFAULT_TIMEOUT expiry.
    up = make_app(requires_redis, CACHE_DEFAULT_TIMEOUT=7)
    client = up.test_client()
    item_id = create_item(client, auth_headers, "lamp")
    assert client.get(f"/api/items/{item_id}").status_code == 200

    with up.app_context():
        backend = cache.cache
        keys = backend._read_client.keys(backend.key_prefix + "resp:*")
        ttls = [backend._read_client.ttl(key) for key in keys]

    assert keys
    assert all(0 < ttl <= 7 for ttl in ttls)


def test_write_during_a_partition_reaches_other_instances_once_redis_is_back(
    make_app, requires_redis, auth_headers, monkeypatch
):
    monkeypatch.setattr(caching, "RETRY_INVALIDATION_EVERY", 0.05)
    target = urlsplit(requires_redis)  # the proxy must reach the same Redis database
    proxy = TcpProxy(target.port or 6379, redis_db=int(target.path.strip("/") or 0)).start()
    try:
        reader = make_app(requires_redis).test_client()
        writer = make_app(proxy.url).test_client()
        item_id = create_item(reader, auth_headers, "lamp")
        assert reader.get(f"/api/items/{item_id}").get_json()["name"] == "lamp"
        proxy.stop()  # the writer loses Redis; the reader keeps it
        patch = writer.patch(f"/api/items/{item_id}", json={"name": "desk"}, headers=auth_headers)
        assert patch.status_code == 200

        proxy.start()  # same port: the writer's background retry replaces the version
        url = f"/api/items/{item_id}"
        wait_for(lambda: reader.get(url).get_json()["name"] == "desk", 2, "the reader to see it")
    finally:
        proxy.stop()
