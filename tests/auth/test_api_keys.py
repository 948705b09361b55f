"""Personal access tokens (API.md "Personal access tokens (API keys)"), through HTTP."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from myproject.extensions import db
from myproject.models import ApiKey
from myproject.models.base import utcnow
from tests.support import TcpProxy, assert_problem, bearer
from tests.test_caching import make_app  # noqa: F401  (fixture)


def test_create_shows_the_key_once(client, auth_headers, make_key):
    response = client.post(
        "/auth/api-keys",
        json={"name": "nightly export", "scopes": ["items:read"], "expires_in_days": 7},
        headers=auth_headers,
    )

    assert response.status_code == 201
    body = response.get_json()
    assert list(body) == [
        "id",
        "name",
        "scopes",
        "token",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
    ]
    assert re.fullmatch(r"mp_[A-Za-z0-9_-]{32,}", body["token"])
    assert body["prefix"] == body["token"][:8]
    assert body["scopes"] == ["items:read"] and body["last_used_at"] is None
    assert response.headers["Location"].endswith(f"/auth/api-keys/{body['id']}")
    assert response.headers["Cache-Control"] == "no-store"
    shown = client.get(response.headers["Location"], headers=auth_headers)
    assert shown.status_code == 200
    assert shown.get_json() == {k: v for k, v in body.items() if k != "token"}
    listed = client.get("/auth/api-keys", headers=auth_headers).get_json()
    assert listed == [shown.get_json()]
    assert "token" not in str(listed)


def test_default_expiry_is_90_days(make_key, session):
    body = make_key()
    key = session.get(ApiKey, body["id"])
    assert abs(key.expires_at - (key.created_at + timedelta(days=90))) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["items:delete"]},
        {"name": "x", "scopes": [{}]},
        {"name": "x", "scopes": [None]},
        {"name": "x", "scopes": None},
        {"name": "x", "scopes": "items:read"},
        {"name": "x", "scopes": ["items:read"], "expires_in_days": None},
        {"name": "x", "scopes": ["items:read"], "expires_in_days": 0},
        {"name": "x", "scopes": ["items:read"], "expires_in_days": 366},
        {"name": "", "scopes": ["items:read"]},
        {"scopes": ["items:read"]},
        {"name": "x", "scopes": ["items:read"], "token": "mp_mine"},
    ],
)
def test_invalid_bodies_are_422(client, auth_headers, body):
    assert_problem(client.post("/auth/api-keys", json=body, headers=auth_headers), 422)


def test_a_scope_named_twice_counts_once(client, auth_headers):
    body = {"name": "x", "scopes": ["items:read", "items:read"]}

    response = client.post("/auth/api-keys", json=body, headers=auth_headers)

    assert response.status_code == 201
    assert response.get_json()["scopes"] == ["items:read"]


def test_an_unknown_scope_is_named_by_its_field(client, auth_headers):
    body = {"name": "x", "scopes": ["items:read", "items:delete"]}

    response = client.post("/auth/api-keys", json=body, headers=auth_headers)

    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]["scopes"]) == [
        "Must be one of: items:read, items:write, users:read, users:write."
    ]


def test_at_most_20_live_keys(client, auth_headers, make_key, session, user):
    ids = [make_key(["items:read"])["id"] for _ in range(20)]
    response = client.post(
        "/auth/api-keys", json={"name": "x", "scopes": ["items:read"]}, headers=auth_headers
    )
    assert "20" in assert_problem(response, 422)["detail"]
    # An expired key no longer counts.
    session.execute(update(ApiKey).where(ApiKey.id == ids[0]).values(expires_at=utcnow()))
    session.commit()
    make_key(["items:read"])


def test_others_keys_are_404(client, make_key, other_headers, auth_headers):
    key = make_key()
    for method in ("get", "delete"):
        response = getattr(client, method)(f"/auth/api-keys/{key['id']}", headers=other_headers)
        assert assert_problem(response, 404)["detail"] == f"API key {key['id']} does not exist."
    assert_problem(client.get("/auth/api-keys/999999", headers=auth_headers), 404)
    assert client.get("/auth/api-keys", headers=other_headers).get_json() == []


def test_revoked_expired_and_deactivated(
    client, make_key, auth_headers, session, user, admin_headers
):
    revoked, expired, active = make_key(), make_key(), make_key()
    assert client.delete(f"/auth/api-keys/{revoked['id']}", headers=auth_headers).status_code == 204
    session.execute(update(ApiKey).where(ApiKey.id == expired["id"]).values(expires_at=utcnow()))
    session.commit()
    for key in (revoked, expired):
        assert_problem(client.get("/api/users/me", headers=bearer(key["token"])), 401)
    assert client.get("/api/users/me", headers=bearer(active["token"])).status_code == 200

    client.patch(f"/api/users/{user.id}", json={"is_active": False}, headers=admin_headers)
    assert_problem(client.get("/api/users/me", headers=bearer(active["token"])), 401)


def test_deleting_the_user_deletes_their_keys(client, make_key, auth_headers, session, user):
    key = make_key()
    assert client.delete(f"/api/users/{user.id}", headers=auth_headers).status_code == 204
    assert session.scalars(select(ApiKey)).all() == []
    assert_problem(client.get("/api/users/me", headers=bearer(key["token"])), 401)


def test_last_used_moves_at_most_once_a_minute(client, make_key, session, sql_statements):
    key = make_key()
    headers = bearer(key["token"])
    client.get("/api/users/me", headers=headers)
    first = client.get(f"/auth/api-keys/{key['id']}", headers=headers)
    assert first.status_code == 403  # keys do not read keys: check the row instead
    stored = session.get(ApiKey, key["id"])
    session.refresh(stored)
    assert stored.last_used_at is not None
    used = stored.last_used_at

    sql_statements.clear()
    for _ in range(3):
        assert client.get("/api/users/me", headers=headers).status_code == 200
    assert not [s for s in sql_statements if s.lstrip().upper().startswith("UPDATE")]
    session.refresh(stored)
    assert stored.last_used_at == used


def test_the_token_is_nowhere_in_the_database(client, make_key, session):
    token = make_key()["token"]
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200  # a use too

    dump = [
        str(value)
        for table in db.metadata.sorted_tables  # every table, every column
        for row in session.execute(table.select())
        for value in row
    ]

    assert dump and "api_keys" in {table.name for table in db.metadata.sorted_tables}
    for part in (token, token[3:], token[8:]):  # the key, or the key without its prefix
        assert not [value for value in dump if part in value]


def test_a_revoked_key_cannot_come_back_through_a_slow_reader(
    client, make_key, auth_headers, requires_redis
):
    from myproject import api_keys

    key = make_key(["users:read"])
    assert client.get("/api/users/me", headers=bearer(key["token"])).status_code == 200
    grant = api_keys.grant_for(key["token"])  # what an instance read before the delete
    assert grant is not None

    assert client.delete(f"/auth/api-keys/{key['id']}", headers=auth_headers).status_code == 204
    api_keys._cache_add(api_keys.hash_token(key["token"]), grant)  # its late cache write

    assert_problem(client.get("/api/users/me", headers=bearer(key["token"])), 401)


def test_the_schemas_document_the_declared_representations(make_key, session, tokens):
    from myproject.models import LoginSession
    from myproject.models.api_key import API_KEYS
    from myproject.models.session import SESSIONS
    from myproject.schemas.api_key import ApiKeySchema, LoginSessionSchema

    key = session.get(ApiKey, make_key()["id"])
    assert ApiKeySchema().dump(key) == API_KEYS.serialize(key)
    login = session.scalars(select(LoginSession)).first()
    login.last_used_at = login.created_at
    assert LoginSessionSchema().dump(login) == SESSIONS.serialize(login)


def test_a_key_is_not_deleted_while_redis_cannot_take_its_tombstone(
    make_app,  # noqa: F811
    requires_redis,
    auth_headers,
):
    target = urlsplit(requires_redis)  # the proxy must reach the same Redis database
    proxy = TcpProxy(target.port or 6379, redis_db=int(target.path.strip("/") or 0)).start()
    try:
        reader = make_app(requires_redis).test_client()  # another instance, Redis reachable
        writer = make_app(proxy.url).test_client()
        created = writer.post(
            "/auth/api-keys", json={"name": "ci", "scopes": ["users:read"]}, headers=auth_headers
        )
        assert created.status_code == 201, created.get_json()
        key, me = created.get_json(), "/api/users/me"
        assert reader.get(me, headers=bearer(key["token"])).status_code == 200  # now cached
        proxy.stop()  # the writer loses Redis

        refused = writer.delete(f"/auth/api-keys/{key['id']}", headers=auth_headers)

        assert_problem(refused, 503)
        assert refused.headers["Retry-After"] == "5"
        assert writer.get(f"/auth/api-keys/{key['id']}", headers=auth_headers).status_code == 200
        proxy.start()
        # At once, although the writer's reads still skip Redis after the error (back-off).
        deleted = writer.delete(f"/auth/api-keys/{key['id']}", headers=auth_headers)
        assert deleted.status_code == 204
        assert_problem(reader.get(me, headers=bearer(key["token"])), 401)
    finally:
        proxy.stop()
