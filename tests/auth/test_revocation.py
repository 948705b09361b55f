"""Revocation: refresh-token theft detection, logout, logout-all, password changes,
deactivation and deletion, and what an admin's token may do.

Revocation lives in the ``login_sessions`` table (``myproject/auth/sessions.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from myproject.models import LoginSession, User
from tests.support import PASSWORD, AuthActions, bearer, claims_of, post_login, refresh

NEW_PASSWORD = "battery-staple-77"


@pytest.fixture()
def other_tokens(auth: AuthActions, user: User, tokens: dict) -> dict[str, Any]:
    """A second, independent login of alice (another device)."""
    return auth.login(user.username)


def me(client: FlaskClient, pair: dict) -> int:
    """Status of GET /api/users/me with the pair's access token."""
    status: int = client.get("/api/users/me", headers=bearer(pair["access_token"])).status_code
    return status


def session_id(pair: dict) -> int:
    sid: int = claims_of(pair["access_token"])["sid"]
    return sid


def assert_login_dead(client: FlaskClient, pair: dict) -> None:
    """Both tokens of the login get 401 problem JSON."""
    access = client.get("/api/users/me", headers=bearer(pair["access_token"]))
    renewed = refresh(client, pair["refresh_token"])
    assert (access.status_code, renewed.status_code) == (401, 401)
    assert access.mimetype == renewed.mimetype == "application/problem+json"


# --- Refresh-token reuse is theft ----------------------------------------------------------


def test_reused_refresh_token_gets_401(client: FlaskClient, tokens: dict) -> None:
    assert refresh(client, tokens["refresh_token"]).status_code == 200

    response = refresh(client, tokens["refresh_token"])

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_reused_refresh_token_revokes_the_whole_login(client: FlaskClient, tokens: dict) -> None:
    rotated = refresh(client, tokens["refresh_token"]).get_json()

    refresh(client, tokens["refresh_token"])

    assert_login_dead(client, rotated)
    assert me(client, tokens) == 401


def test_reused_refresh_token_leaves_other_logins_alone(
    client: FlaskClient, tokens: dict, other_tokens: dict
) -> None:
    refresh(client, tokens["refresh_token"])

    refresh(client, tokens["refresh_token"])

    assert me(client, other_tokens) == 200
    assert refresh(client, other_tokens["refresh_token"]).status_code == 200


def test_reuse_marks_the_session_row_revoked(
    client: FlaskClient, session: Any, tokens: dict
) -> None:
    refresh(client, tokens["refresh_token"])

    refresh(client, tokens["refresh_token"])

    row = session.get(LoginSession, session_id(tokens), populate_existing=True)
    assert row.revoked_at is not None


# --- Logout ------------------------------------------------------------------------------


def test_logout_answers_204_with_an_empty_body(client: FlaskClient, tokens: dict) -> None:
    response = client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert response.data == b""


def test_logout_ends_the_login_for_every_client(
    app: Flask, client: FlaskClient, tokens: dict
) -> None:
    other_client = app.test_client()
    assert me(other_client, tokens) == 200

    client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    assert_login_dead(client, tokens)
    assert_login_dead(other_client, tokens)


def test_logout_keeps_other_logins_of_the_user(
    client: FlaskClient, tokens: dict, other_tokens: dict
) -> None:
    client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    assert me(client, other_tokens) == 200
    assert refresh(client, other_tokens["refresh_token"]).status_code == 200


def test_logout_with_a_refresh_token_is_refused(client: FlaskClient, tokens: dict) -> None:
    response = client.post("/auth/logout", headers=bearer(tokens["refresh_token"]))

    assert response.status_code == 401
    assert me(client, tokens) == 200


def test_logout_is_stored_in_the_login_sessions_table(
    client: FlaskClient, session: Any, tokens: dict
) -> None:
    sid = session_id(tokens)
    assert session.get(LoginSession, sid).revoked_at is None

    client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    assert session.get(LoginSession, sid, populate_existing=True).revoked_at is not None


def test_logout_all_answers_204_and_ends_every_login(
    client: FlaskClient, tokens: dict, other_tokens: dict
) -> None:
    response = client.post("/auth/logout-all", headers=bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert response.data == b""
    assert_login_dead(client, tokens)
    assert_login_dead(client, other_tokens)


def test_logout_all_spares_other_users(
    client: FlaskClient, auth: AuthActions, tokens: dict, admin: User
) -> None:
    admins = auth.login(admin.username)

    client.post("/auth/logout-all", headers=bearer(tokens["access_token"]))

    assert me(client, admins) == 200


# --- Password change --------------------------------------------------------------------


def change_password(client: FlaskClient, user: User, pair: dict) -> Any:
    return client.patch(
        f"/api/users/{user.id}",
        json={"password": NEW_PASSWORD, "current_password": PASSWORD},
        headers=bearer(pair["access_token"]),
    )


def test_password_change_revokes_every_other_login(
    client: FlaskClient, user: User, tokens: dict, other_tokens: dict
) -> None:
    response = change_password(client, user, tokens)

    assert response.status_code == 200
    assert_login_dead(client, other_tokens)


def test_password_change_keeps_the_callers_login(
    client: FlaskClient, user: User, tokens: dict, other_tokens: dict
) -> None:
    assert change_password(client, user, tokens).status_code == 200

    assert me(client, tokens) == 200
    assert refresh(client, tokens["refresh_token"]).status_code == 200


def test_password_change_with_wrong_current_password_revokes_nothing(
    client: FlaskClient, user: User, tokens: dict, other_tokens: dict
) -> None:
    response = client.patch(
        f"/api/users/{user.id}",
        json={"password": NEW_PASSWORD, "current_password": "not-the-password"},
        headers=bearer(tokens["access_token"]),
    )

    assert response.status_code == 422
    assert me(client, other_tokens) == 200


def test_admin_setting_a_password_revokes_every_login_of_the_user(
    client: FlaskClient, user: User, tokens: dict, admin_headers: dict
) -> None:
    response = client.patch(
        f"/api/users/{user.id}", json={"password": NEW_PASSWORD}, headers=admin_headers
    )

    assert response.status_code == 200
    assert_login_dead(client, tokens)
    assert client.get("/api/users/me", headers=admin_headers).status_code == 200


# --- Deactivation and deletion ----------------------------------------------------------


def test_deactivation_invalidates_the_users_tokens_at_once(
    client: FlaskClient, user: User, tokens: dict, admin_headers: dict
) -> None:
    response = client.patch(
        f"/api/users/{user.id}", json={"is_active": False}, headers=admin_headers
    )

    assert response.status_code == 200
    assert response.get_json()["is_active"] is False
    assert_login_dead(client, tokens)


def test_deactivated_user_cannot_log_in(
    client: FlaskClient, user: User, admin_headers: dict
) -> None:
    client.patch(f"/api/users/{user.id}", json={"is_active": False}, headers=admin_headers)

    response = post_login(client, "alice")

    assert response.status_code == 401
    assert "access_token" not in response.get_json()


def test_deleting_a_user_invalidates_their_tokens(
    client: FlaskClient, user: User, tokens: dict, admin_headers: dict
) -> None:
    response = client.delete(f"/api/users/{user.id}", headers=admin_headers)

    assert response.status_code == 204
    assert_login_dead(client, tokens)


def test_self_deletion_invalidates_the_token_used(
    client: FlaskClient, user: User, tokens: dict
) -> None:
    response = client.delete(f"/api/users/{user.id}", headers=bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert_login_dead(client, tokens)


# --- What an admin's token may do -------------------------------------------------------


@pytest.fixture()
def alices_item(client: FlaskClient, tokens: dict) -> dict[str, Any]:
    response = client.post(
        "/api/items", json={"name": "lamp"}, headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 201
    item: dict[str, Any] = response.get_json()
    return item


def test_admin_can_patch_another_users_item(
    client: FlaskClient, alices_item: dict, admin_headers: dict
) -> None:
    response = client.patch(
        f"/api/items/{alices_item['id']}", json={"name": "desk lamp"}, headers=admin_headers
    )

    assert response.status_code == 200
    assert response.get_json()["name"] == "desk lamp"
    assert response.get_json()["owner"]["username"] == "alice"


def test_admin_can_delete_another_users_item(
    client: FlaskClient, alices_item: dict, admin_headers: dict
) -> None:
    response = client.delete(f"/api/items/{alices_item['id']}", headers=admin_headers)

    assert response.status_code == 204
    assert client.get(f"/api/items/{alices_item['id']}").status_code == 404


def test_admin_can_patch_another_user(client: FlaskClient, user: User, admin_headers: dict) -> None:
    response = client.patch(
        f"/api/users/{user.id}", json={"username": "alicia"}, headers=admin_headers
    )

    assert response.status_code == 200
    assert response.get_json()["username"] == "alicia"


def test_admin_can_make_another_user_admin(
    client: FlaskClient, user: User, tokens: dict, admin_headers: dict
) -> None:
    response = client.patch(f"/api/users/{user.id}", json={"is_admin": True}, headers=admin_headers)

    assert response.status_code == 200
    assert response.get_json()["is_admin"] is True
    me_body = client.get("/api/users/me", headers=bearer(tokens["access_token"])).get_json()
    assert me_body["is_admin"] is True


def test_user_cannot_change_another_user(client: FlaskClient, tokens: dict, admin: User) -> None:
    response = client.patch(
        f"/api/users/{admin.id}", json={"username": "pwned"}, headers=bearer(tokens["access_token"])
    )

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("field", ["is_admin", "is_active"])
def test_user_cannot_set_admin_only_fields_on_themself(
    client: FlaskClient, user: User, tokens: dict, field: str
) -> None:
    headers = bearer(tokens["access_token"])
    flipped = {"is_admin": True, "is_active": False}[field]

    response = client.patch(f"/api/users/{user.id}", json={field: flipped}, headers=headers)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    assert client.get("/api/users/me", headers=headers).get_json()[field] is not flipped


def test_create_user_cli_admin_can_log_in_with_admin_powers(
    client: FlaskClient, runner: Any, auth: AuthActions, user: User
) -> None:
    result = runner.invoke(
        args=["create-user", "boss", "boss@example.com", "--admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output

    headers = auth.headers("boss")
    response = client.patch(f"/api/users/{user.id}", json={"is_admin": True}, headers=headers)

    assert response.status_code == 200
    assert client.get("/api/users/me", headers=headers).get_json()["is_admin"] is True


def test_create_user_cli_without_admin_flag_makes_a_normal_user(
    client: FlaskClient, runner: Any, auth: AuthActions
) -> None:
    result = runner.invoke(
        args=["create-user", "pleb", "pleb@example.com", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output

    response = client.get("/api/users/me", headers=auth.headers("pleb"))

    assert response.status_code == 200
    assert response.get_json()["is_admin"] is False


def test_logins_of_two_users_are_told_apart(
    client: FlaskClient, auth: AuthActions, tokens: dict, make_user: Callable
) -> None:
    make_user("bob")
    bobs = auth.login("bob")

    alice_me = client.get("/api/users/me", headers=bearer(tokens["access_token"]))
    bob_me = client.get("/api/users/me", headers=bearer(bobs["access_token"]))

    assert (alice_me.status_code, bob_me.status_code) == (200, 200)
    assert (alice_me.get_json()["username"], bob_me.get_json()["username"]) == ("alice", "bob")
