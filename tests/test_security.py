"""Hardening: token claims, cookie scope and CSRF, allowed hosts, private answers never
cached on the way (API.md, General rules and Authentication)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask

from myproject import create_app
from myproject.extensions import db as _db
from tests.support import PASSWORD, assert_problem, bearer, claims_of

SPA = "https://spa.example"


def make_app(app: Flask, **settings: Any) -> Flask:
    return create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **settings}
    )


@pytest.fixture()
def cookie_app(app: Flask, db: Any) -> Iterator[Flask]:
    application = make_app(app, JWT_TOKEN_LOCATION=["headers", "cookies"], CORS_ORIGINS=[SPA])
    yield application
    with application.app_context():
        _db.engine.dispose()


def forged(app: Flask, user: Any, session_id: int, drop: str) -> str:
    """A token signed with the real key, without the claim ``drop``."""
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "sid": session_id,
        "type": "access",
        "jti": "forged-jti",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "fresh": False,
    }
    claims.pop(drop)
    return pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "jti", "type"])
def test_token_without_a_required_claim_is_401(app, client, user, auth, claim):
    sid = claims_of(auth.login(user.username)["access_token"])["sid"]
    token = forged(app, user, sid, drop=claim)

    response = client.get("/api/users/me", headers=bearer(token))

    assert_problem(response, 401)


def test_token_with_every_claim_is_accepted(app, client, user, auth):
    sid = claims_of(auth.login(user.username)["access_token"])["sid"]
    token = forged(app, user, sid, drop="fresh")

    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200


def test_refresh_cookie_is_scoped_to_the_refresh_path(cookie_app, user):
    response = cookie_app.test_client().post(
        "/auth/token", json={"username": user.username, "password": PASSWORD}
    )

    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert "Path=/auth/token/refresh" in cookies["refresh_token_cookie"]
    # The CSRF value is for the SPA's script, which can read it only with a path covering its page.
    assert "Path=/;" in cookies["csrf_refresh_token"]
    assert "HttpOnly" in cookies["refresh_token_cookie"]
    assert "SameSite=Lax" in cookies["refresh_token_cookie"]
    assert "Path=/;" in cookies["access_token_cookie"]


def test_cookie_write_without_csrf_header_names_it(cookie_app, user):
    client = cookie_app.test_client()
    client.post("/auth/token", json={"username": user.username, "password": PASSWORD})

    response = client.post("/api/items", json={"name": "Lamp"})

    assert "X-CSRF-TOKEN" in assert_problem(response, 401)["detail"]


def test_cookie_mode_preflight_allows_the_csrf_header_with_credentials(cookie_app):
    response = cookie_app.test_client().options(
        "/api/items",
        headers={
            "Origin": SPA,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, X-CSRF-TOKEN",
        },
    )

    assert response.status_code == 200
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "x-csrf-token" in allowed
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_cookie_mode_gives_another_origin_no_cors_headers(cookie_app, user):
    # With credentials allowed, a CORS answer to a foreign origin would let its pages read a
    # signed-in user's data with the user's cookies: it must get no CORS header at all.
    client = cookie_app.test_client()
    client.post("/auth/token", json={"username": user.username, "password": PASSWORD})
    evil = "https://evil.example"

    answers = [
        client.get("/api/users/me", headers={"Origin": evil}),
        client.options(
            "/api/items",
            headers={
                "Origin": evil,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Content-Type, X-CSRF-TOKEN",
            },
        ),
    ]

    for response in answers:
        assert not [name for name in response.headers.keys() if name.startswith("Access-Control-")]


def test_header_mode_preflight_does_not_offer_the_csrf_header(app, db):
    client = make_app(app, CORS_ORIGINS=[SPA]).test_client()

    response = client.options(
        "/api/items",
        headers={
            "Origin": SPA,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-CSRF-TOKEN",
        },
    )

    assert "x-csrf-token" not in response.headers.get("Access-Control-Allow-Headers", "").lower()


@pytest.fixture()
def hosts_client(app: Flask, db: Any) -> Any:
    return make_app(app, TRUSTED_HOSTS=["api.example.com"]).test_client()


def test_request_for_another_host_is_a_400_problem(hosts_client):
    response = hosts_client.get("/api/items", headers={"Host": "evil.example"})

    assert_problem(response, 400)


def test_allowed_host_is_served_and_used_in_location(hosts_client, user):
    headers = {"Host": "api.example.com"}
    login = hosts_client.post(
        "/auth/token", json={"username": user.username, "password": PASSWORD}, headers=headers
    )
    token = login.get_json()["access_token"]

    response = hosts_client.post(
        "/api/items", json={"name": "Lamp"}, headers={**headers, **bearer(token)}
    )

    assert response.status_code == 201
    assert response.headers["Location"].startswith("http://api.example.com/api/items/")


def test_allowed_hosts_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "api.example.com, .example.org")

    assert create_app("testing").config["TRUSTED_HOSTS"] == ["api.example.com", ".example.org"]


@pytest.mark.parametrize("path", ["/api/users/me", "/api/users/{id}"])
def test_private_reads_are_no_store(client, user, auth_headers, path):
    response = client.get(path.format(id=user.id), headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_public_read_of_a_user_may_be_cached(client, user):
    response = client.get(f"/api/users/{user.id}")

    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_registration_answer_and_its_replay_are_no_store(client):
    data = {"username": "newbie", "email": "newbie@example.com", "password": "long-enough-1"}
    headers = {"Idempotency-Key": "register-once"}

    first = client.post("/api/users", json=data, headers=headers)
    replay = client.post("/api/users", json=data, headers=headers)

    assert first.status_code == replay.status_code == 201
    assert first.headers["Cache-Control"] == replay.headers["Cache-Control"] == "no-store"


def test_user_update_answer_is_no_store(client, user, auth_headers):
    response = client.patch(
        f"/api/users/{user.id}", json={"username": "alicia"}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_token_answers_are_no_store(client, user):
    response = client.post("/auth/token", json={"username": user.username, "password": PASSWORD})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
