"""Cookies only (JWT_TOKEN_LOCATION=cookies): login and refresh answers carry no token."""

from __future__ import annotations

import pytest

from myproject.extensions import db as _db
from tests.support import PASSWORD

COOKIE_BODY_KEYS = {"token_type", "expires_in"}


def cookie_client(make_app, locations: list[str]):
    app = make_app(JWT_TOKEN_LOCATION=locations, JWT_COOKIE_SECURE=False)
    return app, app.test_client()


@pytest.fixture()
def cookies_only(make_app):
    app, client = cookie_client(make_app, ["cookies"])
    yield client
    with app.app_context():
        _db.engine.dispose()


def login(client):
    return client.post("/auth/token", json={"username": "alice", "password": PASSWORD})


def set_cookies(response) -> dict[str, str]:
    return {value.split("=", 1)[0]: value for value in response.headers.getlist("Set-Cookie")}


def test_login_body_carries_no_token(cookies_only, user):
    response = login(cookies_only)

    assert response.status_code == 200
    body = response.get_json()
    assert body == {"token_type": "cookie", "expires_in": 900}
    cookies = set_cookies(response)
    assert "HttpOnly" in cookies["access_token_cookie"]
    assert "HttpOnly" in cookies["refresh_token_cookie"]
    for value in (cookies["access_token_cookie"], cookies["refresh_token_cookie"]):
        token = value.split("=", 1)[1].split(";", 1)[0]
        assert token not in response.get_data(as_text=True)


def test_refresh_body_carries_no_token_and_the_cookies_work(cookies_only, user):
    login(cookies_only)
    csrf = cookies_only.get_cookie("csrf_refresh_token")

    response = cookies_only.post("/auth/token/refresh", headers={"X-CSRF-TOKEN": csrf.value})

    assert response.status_code == 200
    assert set(response.get_json()) == COOKIE_BODY_KEYS
    assert response.get_json()["token_type"] == "cookie"
    assert cookies_only.get("/api/users/me").get_json()["username"] == "alice"


def test_headers_and_cookies_still_carry_the_tokens(make_app, user):
    app, client = cookie_client(make_app, ["headers", "cookies"])

    body = login(client).get_json()

    assert {"access_token", "refresh_token"} <= set(body) and body["token_type"] == "Bearer"
    with app.app_context():
        _db.engine.dispose()


@pytest.mark.parametrize("path", ["/auth/token", "/auth/token/refresh"])
def test_openapi_documents_both_shapes(client, path):
    spec = client.get("/api/openapi.json").get_json()

    schema = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
    refs = [member["$ref"].rsplit("/", 1)[1] for member in schema["schema"]["oneOf"]]

    assert refs == ["Token", "CookieToken"]
    cookie = spec["components"]["schemas"]["CookieToken"]
    assert set(cookie["required"]) == COOKIE_BODY_KEYS
