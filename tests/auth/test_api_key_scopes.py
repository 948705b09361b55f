"""API keys on the routes: scopes, refusals, the owner's rate limit (API.md "Personal access
tokens (API keys)")."""

from __future__ import annotations

import pytest

from tests.auth.conftest import ALL
from tests.support import assert_problem, bearer
from tests.test_ratelimit import make_app  # noqa: F401  (fixture)


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
    # The account's security record is read with a login, never with a key (like the logins
    # and keys themselves).
    "GET /api/users/me/security-events": None,
    "GET /api/security-events": None,
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
