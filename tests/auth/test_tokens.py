"""POST /auth/token, token checks on protected routes, refresh rotation, cookie mode.

Covers ``myproject/auth/routes.py``, ``auth/sessions.py`` and ``auth/callbacks.py`` against the
"Authentication" section of API.md.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token
from werkzeug.security import generate_password_hash

from myproject import create_app, passwords
from myproject.extensions import db as _db
from myproject.models import User
from tests.support import (
    PASSWORD,
    AuthActions,
    assert_problem,
    bearer,
    claims_of,
    post_login,
    refresh,
)

ACCESS_LIFETIME = 900
REFRESH_LIFETIME = 30 * 24 * 3600
REFRESH_PATH = "/auth/token/refresh"


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_problem_401(response: Any) -> None:
    body = assert_problem(response, 401)
    assert body["title"] == "Unauthorized"
    assert "access_token" not in body


# --- POST /auth/token -------------------------------------------------------------------


def test_login_returns_a_bearer_token_pair(client: FlaskClient, user: User) -> None:
    response = post_login(client, "alice")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_LIFETIME
    assert body["access_token"] != body["refresh_token"]


@pytest.mark.parametrize(
    "login", ["alice", "ALICE", "aLiCe", " alice ", "alice@example.com", "Alice@Example.COM"]
)
def test_login_accepts_username_in_any_case_or_email(
    client: FlaskClient, user: User, login: str
) -> None:
    response = post_login(client, login)

    assert response.status_code == 200
    assert claims_of(response.get_json()["access_token"])["sub"] == str(user.id)


def test_login_tokens_work_on_a_protected_route(client: FlaskClient, tokens: dict) -> None:
    response = client.get("/api/protected", headers=bearer(tokens["access_token"]))

    assert response.status_code == 200
    assert response.get_json() == {"message": "Hello, alice!"}


def test_access_token_has_string_sub_and_hs256_header(app: Flask, tokens: dict, user: User) -> None:
    token = tokens["access_token"]

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])
    assert claims["sub"] == str(user.id)
    assert claims["type"] == "access"


@pytest.mark.parametrize(
    ("kind", "lifetime"), [("access_token", ACCESS_LIFETIME), ("refresh_token", REFRESH_LIFETIME)]
)
def test_token_lifetimes_default_to_15_minutes_and_30_days(
    tokens: dict, kind: str, lifetime: int
) -> None:
    claims = claims_of(tokens[kind])

    assert claims["exp"] - claims["iat"] == lifetime


def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: FlaskClient, user: User
) -> None:
    wrong_password = post_login(client, "alice", "not-the-password")
    unknown_user = post_login(client, "mallory", "not-the-password")

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.mimetype == unknown_user.mimetype == "application/problem+json"
    ignored = {"request_id", "instance"}
    first = {k: v for k, v in wrong_password.get_json().items() if k not in ignored}
    second = {k: v for k, v in unknown_user.get_json().items() if k not in ignored}
    assert first == second


@pytest.mark.parametrize("login", ["alice", "mallory"])
def test_failed_login_verifies_exactly_one_password_hash(
    client: FlaskClient, user: User, monkeypatch: pytest.MonkeyPatch, login: str
) -> None:
    # Same work for known and unknown users: response time must not reveal who exists.
    calls: list[str] = []

    def counting(pwhash: str, password: str) -> bool:
        calls.append(pwhash)
        return False

    # Every password check goes through myproject.passwords.
    monkeypatch.setattr(passwords, "check_password_hash", counting)

    response = post_login(client, login, "not-the-password")

    assert response.status_code == 401
    assert len(calls) == 1


def test_inactive_user_cannot_log_in(client: FlaskClient, make_user: Callable) -> None:
    make_user("sleepy", is_active=False)

    response = post_login(client, "sleepy")

    assert_problem_401(response)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"password": PASSWORD}, id="missing-username"),
        pytest.param({"username": "alice"}, id="missing-password"),
        pytest.param({}, id="empty-body"),
        pytest.param({"username": 42, "password": PASSWORD}, id="username-not-string"),
        pytest.param({"username": "alice", "password": ["x"]}, id="password-not-string"),
        pytest.param({"username": None, "password": PASSWORD}, id="username-null"),
        pytest.param({"username": "alice", "password": "p" * 129}, id="password-too-long"),
        pytest.param({"username": "alice", "password": PASSWORD, "x": 1}, id="unknown-field"),
    ],
)
def test_malformed_login_body_gets_422(client: FlaskClient, user: User, body: dict) -> None:
    response = client.post("/auth/token", json=body)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "json" in response.get_json()["errors"]


def test_login_rehashes_a_password_made_with_another_method(
    app: Flask, client: FlaskClient, session: Any, user: User
) -> None:
    user.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:2000")
    session.commit()

    response = post_login(client, "alice")

    assert response.status_code == 200
    stored = session.get(User, user.id, populate_existing=True).password_hash
    assert stored.startswith(app.config["PASSWORD_HASH_METHOD"] + "$")
    assert post_login(client, "alice").status_code == 200


# --- Token checks: every bad token is a 401 problem ---------------------------------------


def forge(token: str, key: str, **changes: Any) -> str:
    """``token``'s claims with ``changes``, signed HS256 with ``key``."""
    return jwt.encode({**claims_of(token), **changes}, key, algorithm="HS256")


def wrong_key(app: Flask, tokens: dict) -> dict[str, str]:
    return bearer(forge(tokens["access_token"], "wrong-key-" + "x" * 32))


def tampered_payload(app: Flask, tokens: dict) -> dict[str, str]:
    header, _payload, signature = tokens["access_token"].split(".")
    payload = b64url({**claims_of(tokens["access_token"]), "adm": True})
    return bearer(f"{header}.{payload}.{signature}")


def alg_none(app: Flask, tokens: dict) -> dict[str, str]:
    header = b64url({"alg": "none", "typ": "JWT"})
    return bearer(f"{header}.{b64url(claims_of(tokens['access_token']))}.")


def expired_by_reencoding(app: Flask, tokens: dict) -> dict[str, str]:
    claims = claims_of(tokens["access_token"])
    past = {"iat": claims["iat"] - 3600, "nbf": claims["iat"] - 3600, "exp": claims["iat"] - 60}
    return bearer(forge(tokens["access_token"], app.config["JWT_SECRET_KEY"], **past))


def expired_by_flask_jwt(app: Flask, tokens: dict) -> dict[str, str]:
    claims = claims_of(tokens["access_token"])
    with app.app_context():
        token = create_access_token(
            identity=claims["sub"],
            expires_delta=timedelta(seconds=-10),
            additional_claims={"sid": claims["sid"]},
        )
    return bearer(token)


def refresh_as_access(app: Flask, tokens: dict) -> dict[str, str]:
    return bearer(tokens["refresh_token"])


def test_resigned_token_with_the_right_key_is_accepted(
    app: Flask, client: FlaskClient, tokens: dict
) -> None:
    # The control for the matrix below: forge() alone does not make a token invalid.
    token = forge(tokens["access_token"], app.config["JWT_SECRET_KEY"])

    response = client.get("/api/users/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.get_json()["username"] == "alice"


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda app, tokens: {}, id="no-authorization"),
        pytest.param(lambda app, tokens: {"Authorization": "Bearer"}, id="bearer-alone"),
        pytest.param(lambda app, tokens: {"Authorization": "Bearer "}, id="bearer-space"),
        pytest.param(lambda app, tokens: {"Authorization": "Basic xyz"}, id="basic-scheme"),
        pytest.param(lambda app, tokens: {"Authorization": tokens["access_token"]}, id="no-scheme"),
        pytest.param(lambda app, tokens: bearer("junk"), id="junk-token"),
        pytest.param(lambda app, tokens: bearer("a.b.c"), id="junk-segments"),
        pytest.param(wrong_key, id="signed-with-another-key"),
        pytest.param(tampered_payload, id="tampered-payload"),
        pytest.param(alg_none, id="alg-none"),
        pytest.param(expired_by_reencoding, id="expired-reencoded"),
        pytest.param(expired_by_flask_jwt, id="expired-issued"),
        pytest.param(refresh_as_access, id="refresh-used-as-access"),
    ],
)
def test_bad_access_token_gets_401_problem(
    app: Flask, client: FlaskClient, tokens: dict, make_headers: Callable
) -> None:
    response = client.get("/api/users/me", headers=make_headers(app, tokens))

    assert_problem_401(response)


def test_401_challenges_with_bearer_scheme(client: FlaskClient) -> None:
    response = client.get("/api/users/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_for_a_session_that_does_not_exist_gets_401(
    app: Flask, client: FlaskClient, tokens: dict
) -> None:
    token = forge(tokens["access_token"], app.config["JWT_SECRET_KEY"], sid=2_000_000_000)

    response = client.get("/api/users/me", headers=bearer(token))

    assert_problem_401(response)


def test_token_of_another_users_session_gets_401(
    app: Flask, client: FlaskClient, auth: AuthActions, tokens: dict, make_user: Callable
) -> None:
    bob = make_user("bob")
    bobs_sid = claims_of(auth.login("bob")["access_token"])["sid"]
    token = forge(tokens["access_token"], app.config["JWT_SECRET_KEY"], sub=str(bob.id))
    assert claims_of(token)["sid"] != bobs_sid

    response = client.get("/api/users/me", headers=bearer(token))

    assert_problem_401(response)


def test_access_token_is_refused_by_the_refresh_endpoint(client: FlaskClient, tokens: dict) -> None:
    response = refresh(client, tokens["access_token"])

    assert_problem_401(response)


def test_misused_refresh_token_does_not_end_the_login(client: FlaskClient, tokens: dict) -> None:
    client.get("/api/users/me", headers=bearer(tokens["refresh_token"]))

    response = client.get("/api/users/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 200


# --- Refresh rotation -------------------------------------------------------------------


def test_refresh_returns_a_new_access_and_refresh_token(client: FlaskClient, tokens: dict) -> None:
    response = refresh(client, tokens["refresh_token"])

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_LIFETIME
    assert body["access_token"] != tokens["access_token"]
    assert body["refresh_token"] != tokens["refresh_token"]


def test_refreshed_tokens_work(client: FlaskClient, tokens: dict) -> None:
    fresh = refresh(client, tokens["refresh_token"]).get_json()

    me = client.get("/api/users/me", headers=bearer(fresh["access_token"]))
    again = refresh(client, fresh["refresh_token"])

    assert me.status_code == 200
    assert me.get_json()["username"] == "alice"
    assert again.status_code == 200


def test_refresh_keeps_the_same_login_session(client: FlaskClient, tokens: dict) -> None:
    fresh = refresh(client, tokens["refresh_token"]).get_json()

    assert claims_of(fresh["access_token"])["sid"] == claims_of(tokens["access_token"])["sid"]
    assert claims_of(fresh["refresh_token"])["sid"] == claims_of(tokens["refresh_token"])["sid"]


def test_old_access_token_still_works_after_refresh(client: FlaskClient, tokens: dict) -> None:
    # Rotation spends the refresh token only; the access token lives out its 15 minutes.
    refresh(client, tokens["refresh_token"])

    response = client.get("/api/users/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 200


# --- Cost of authentication -------------------------------------------------------------


def test_protected_request_costs_one_sql_statement(
    client: FlaskClient, tokens: dict, sql_statements: list[str]
) -> None:
    response = client.get("/api/users/me", headers=bearer(tokens["access_token"]))

    assert response.status_code == 200
    assert len(sql_statements) == 1, sql_statements


# --- Cookie mode ------------------------------------------------------------------------


@pytest.fixture()
def cookie_app(app: Flask, db: Any) -> Iterator[Flask]:
    """A second app on the same database that also reads tokens from cookies."""
    application = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "JWT_TOKEN_LOCATION": ["headers", "cookies"],
        },
    )
    yield application
    with application.app_context():
        _db.engine.dispose()


@pytest.fixture()
def cookie_client(cookie_app: Flask, user: User) -> FlaskClient:
    """A client logged in as alice through cookies."""
    client = cookie_app.test_client()
    assert post_login(client, "alice").status_code == 200
    return client


def test_cookie_mode_login_sets_http_only_token_cookies(cookie_client: FlaskClient) -> None:
    access = cookie_client.get_cookie("access_token_cookie")
    refresh_cookie = cookie_client.get_cookie("refresh_token_cookie", path=REFRESH_PATH)

    assert access is not None and access.http_only
    assert refresh_cookie is not None and refresh_cookie.http_only
    assert cookie_client.get_cookie("csrf_access_token") is not None


def test_cookie_authenticates_a_read(cookie_client: FlaskClient) -> None:
    response = cookie_client.get("/api/users/me")

    assert response.status_code == 200
    assert response.get_json()["username"] == "alice"


def test_cookie_post_without_csrf_header_is_rejected(cookie_client: FlaskClient) -> None:
    response = cookie_client.post("/api/items", json={"name": "lamp"})

    assert_problem_401(response)


def test_cookie_post_with_wrong_csrf_header_is_rejected(cookie_client: FlaskClient) -> None:
    response = cookie_client.post(
        "/api/items", json={"name": "lamp"}, headers={"X-CSRF-TOKEN": "forged"}
    )

    assert_problem_401(response)


def test_cookie_post_with_csrf_header_is_accepted(cookie_client: FlaskClient) -> None:
    csrf = cookie_client.get_cookie("csrf_access_token").value

    response = cookie_client.post(
        "/api/items", json={"name": "lamp"}, headers={"X-CSRF-TOKEN": csrf}
    )

    assert response.status_code == 201
    assert response.get_json()["owner"]["username"] == "alice"


def test_cookie_refresh_with_csrf_header_rotates(cookie_client: FlaskClient) -> None:
    old = cookie_client.get_cookie("refresh_token_cookie", path=REFRESH_PATH).value
    csrf = cookie_client.get_cookie("csrf_refresh_token").value

    response = cookie_client.post("/auth/token/refresh", headers={"X-CSRF-TOKEN": csrf})

    assert response.status_code == 200
    assert cookie_client.get_cookie("refresh_token_cookie", path=REFRESH_PATH).value != old
