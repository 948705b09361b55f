"""Personal access tokens (API.md "Personal access tokens (API keys)"), through HTTP."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from myproject.extensions import db
from myproject.models import ApiKey
from myproject.models.base import utcnow
from tests.support import assert_problem, bearer
from tests.test_ratelimit import make_app  # noqa: F401  (fixture)

ALL = ["items:read", "items:write", "users:read", "users:write"]


@pytest.fixture()
def make_key(client, auth_headers):
    def factory(scopes: list[str] = ALL, headers: dict[str, str] | None = None, **body: Any):
        response = client.post(
            "/auth/api-keys",
            json={"name": "script", "scopes": scopes, **body},
            headers=headers or auth_headers,
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return factory


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
        {"name": "x", "scopes": ["items:read", "items:read"]},
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


def test_a_key_acts_as_its_owner(client, make_key, user):
    key = make_key()
    headers = bearer(key["token"])

    me = client.get("/api/users/me", headers=headers)
    assert me.status_code == 200 and me.get_json()["id"] == user.id
    assert me.headers["Cache-Control"] == "no-store"
    created = client.post("/api/items", json={"name": "Lamp"}, headers=headers)
    assert created.status_code == 201
    assert created.get_json()["owner"]["id"] == user.id
    item = created.get_json()["id"]
    assert (
        client.patch(f"/api/items/{item}", json={"name": "Desk"}, headers=headers).status_code
        == 200
    )
    assert client.get(f"/api/items/{item}", headers=headers).status_code == 200
    assert client.get(f"/api/users/{user.id}", headers=headers).get_json()["email"] == user.email
    renamed = client.patch(f"/api/users/{user.id}", json={"username": "alice2"}, headers=headers)
    assert renamed.status_code == 200
    assert client.delete(f"/api/items/{item}", headers=headers).status_code == 204


@pytest.mark.parametrize(
    ("scope", "method", "path", "body"),
    [
        ("items:read", "get", "/api/items", None),
        ("items:read", "get", "/api/items/{item}", None),
        ("items:read", "get", "/api/users/{user}/items", None),
        ("items:write", "post", "/api/items", {"name": "Lamp"}),
        ("items:write", "put", "/api/items/{item}", {"name": "Lamp"}),
        ("items:write", "patch", "/api/items/{item}", {"name": "Lamp"}),
        ("items:write", "delete", "/api/items/{item}", None),
        ("users:read", "get", "/api/users", None),
        ("users:read", "get", "/api/users/{user}", None),
        ("users:read", "get", "/api/users/me", None),
        ("users:read", "get", "/api/protected", None),
        ("users:write", "patch", "/api/users/{user}", {"username": "alice3"}),
    ],
)
def test_every_route_checks_its_scope(client, make_key, item, user, scope, method, path, body):
    others = [s for s in ALL if s != scope]
    headers = bearer(make_key(others)["token"])
    url = path.format(item=item.id, user=user.id)

    response = getattr(client, method)(url, json=body, headers=headers)

    assert scope in assert_problem(response, 403)["detail"]
    allowed = getattr(client, method)(url, json=body, headers=bearer(make_key([scope])["token"]))
    assert allowed.status_code in (200, 201, 204)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/auth/api-keys", None),
        ("post", "/auth/api-keys", {"name": "x", "scopes": ["items:read"]}),
        ("get", "/auth/api-keys/{key}", None),
        ("delete", "/auth/api-keys/{key}", None),
        ("get", "/auth/sessions", None),
        ("delete", "/auth/sessions/1", None),
        ("post", "/auth/logout", None),
        ("post", "/auth/logout-all", None),
        ("post", "/auth/token/refresh", None),
        ("patch", "/api/users/{user}", {"password": "new-password-1", "current_password": "x"}),
        ("patch", "/api/users/{user}", {"email": "new@example.com"}),
        ("delete", "/api/users/{user}", None),
        ("post", "/api/users", {"username": "ann", "email": "a@example.com", "password": "p" * 9}),
    ],
)
def test_a_key_never_manages_the_account(client, make_key, user, method, path, body):
    key = make_key()
    url = path.format(key=key["id"], user=user.id)

    response = getattr(client, method)(url, json=body, headers=bearer(key["token"]))

    assert_problem(response, 403)
    assert client.get(f"/api/users/{user.id}").status_code == 200  # still there


@pytest.mark.parametrize("token", ["mp_unknown", "mp_" + "A" * 43, "mp_"])
def test_unknown_keys_are_401(client, item, token):
    for path in ("/api/items", "/api/users/me"):
        response = client.get(path, headers=bearer(token))
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


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


def test_keys_count_against_their_owner(make_app, make_key, auth_headers):  # noqa: F811
    key = make_key()
    app = make_app(RATELIMIT_ANONYMOUS="2 per minute", RATELIMIT_SIGNED_IN="5 per minute")
    client = app.test_client()

    answers = [
        client.get("/api/items", headers=headers)
        for headers in (auth_headers, bearer(key["token"]), auth_headers, bearer(key["token"]))
    ]

    assert [r.headers["X-RateLimit-Limit"] for r in answers] == ["5"] * 4  # the owner's tier
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["4", "3", "2", "1"]
    assert client.get("/api/items", headers=bearer(key["token"])).status_code == 200
    assert client.get("/api/items", headers=bearer(key["token"])).status_code == 429


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


# What a key needs on every API route (None: keys are refused). A new route must be added
# here: the declaration on the route (``@blp.authenticated(scope=...)``) is what is checked.
SCOPES = {
    "GET /api/items": "items:read",
    "POST /api/items": "items:write",
    "GET /api/items/<int4:item_id>": "items:read",
    "PUT /api/items/<int4:item_id>": "items:write",
    "PATCH /api/items/<int4:item_id>": "items:write",
    "DELETE /api/items/<int4:item_id>": "items:write",
    "GET /api/users": "users:read",
    "POST /api/users": None,
    "GET /api/users/<int4:user_id>": "users:read",
    "PATCH /api/users/<int4:user_id>": "users:write",
    "DELETE /api/users/<int4:user_id>": None,
    "GET /api/users/me": "users:read",
    "GET /api/users/<int4:user_id>/items": "items:read",
    "GET /api/protected": "users:read",
}


def test_every_api_route_declares_what_a_key_needs(app):
    from myproject.openapi import API_KEY_SCOPE, Blueprint

    declared = {}
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
        if not isinstance(blueprint, Blueprint):
            continue
        view_class = app.view_functions[rule.endpoint].view_class
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            view = getattr(view_class, method.lower())
            declared[f"{method} {rule.rule}"] = getattr(view, API_KEY_SCOPE, None)

    api_routes = {route: scope for route, scope in declared.items() if " /api/" in route}
    assert api_routes == SCOPES
    assert {scope for route, scope in declared.items() if " /auth/" in route} == {None}


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
