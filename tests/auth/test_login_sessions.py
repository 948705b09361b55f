"""The caller's logins (API.md "Authentication": GET and DELETE /auth/sessions)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from myproject.models import LoginSession
from myproject.models.base import utcnow
from tests.support import assert_problem, bearer, post_login, refresh

AGENT = {"User-Agent": "Laptop/1.0 (test)"}


def login(client, username, **headers):
    response = client.post(
        "/auth/token", json={"username": username, "password": "correct-horse-42"}, headers=headers
    )
    assert response.status_code == 200
    return response.get_json()


def test_lists_live_logins_newest_first(client, user, other, session):
    first = login(client, user.username, **AGENT)
    second = login(client, user.username, **{"User-Agent": "Phone/2.0"})
    ended = login(client, user.username)
    login(client, other.username)
    assert client.post("/auth/logout", headers=bearer(ended["access_token"])).status_code == 204

    response = client.get("/auth/sessions", headers=bearer(first["access_token"]))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert [s["user_agent"] for s in body] == ["Phone/2.0", "Laptop/1.0 (test)"]
    assert [s["current"] for s in body] == [False, True]
    assert set(body[0]) == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}
    assert body[1]["ip"] == "127.0.0.1"
    assert body[0]["id"] > body[1]["id"]
    other_view = client.get("/auth/sessions", headers=bearer(second["access_token"])).get_json()
    assert [s["current"] for s in other_view] == [True, False]


def test_expired_logins_are_not_listed(client, user, session):
    old = login(client, user.username)
    now = login(client, user.username)
    mine = LoginSession.user_id == user.id
    session.execute(update(LoginSession).where(mine).values(expires_at=utcnow()))
    session.commit()
    session.execute(
        update(LoginSession)
        .where(LoginSession.refresh_jti == _jti(now["refresh_token"]))
        .values(expires_at=utcnow() + timedelta(days=1))
    )
    session.commit()
    listed = client.get("/auth/sessions", headers=bearer(now["access_token"])).get_json()
    assert len(listed) == 1 and listed[0]["current"]
    assert old


def _jti(token: str) -> str:
    from tests.support import claims_of

    jti: str = claims_of(token)["jti"]
    return jti


def test_refresh_records_the_new_address_and_agent(client, user):
    tokens = login(client, user.username, **AGENT)
    renewed = client.post(
        "/auth/token/refresh",
        headers={**bearer(tokens["refresh_token"]), "User-Agent": "Renewed/3"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert renewed.status_code == 200
    listed = client.get(
        "/auth/sessions", headers=bearer(renewed.get_json()["access_token"])
    ).get_json()
    assert [(s["ip"], s["user_agent"]) for s in listed] == [("10.1.2.3", "Renewed/3")]


def test_deleting_a_login_ends_it_like_its_logout(client, user):
    laptop = login(client, user.username)
    phone = login(client, user.username)
    phone_id = client.get("/auth/sessions", headers=bearer(phone["access_token"])).get_json()[0]

    response = client.delete(
        f"/auth/sessions/{phone_id['id']}", headers=bearer(laptop["access_token"])
    )

    assert response.status_code == 204 and response.data == b""
    assert_problem(client.get("/api/users/me", headers=bearer(phone["access_token"])), 401)
    assert_problem(refresh(client, phone["refresh_token"]), 401)
    assert client.get("/api/users/me", headers=bearer(laptop["access_token"])).status_code == 200
    # Already ended: 404 like an unknown one.
    again = client.delete(
        f"/auth/sessions/{phone_id['id']}", headers=bearer(laptop["access_token"])
    )
    assert_problem(again, 404)


def test_another_users_or_unknown_login_is_404(client, user, other):
    mine = login(client, user.username)
    theirs = login(client, other.username)
    their_id = client.get("/auth/sessions", headers=bearer(theirs["access_token"])).get_json()[0]

    for session_id in (their_id["id"], 999_999, 2**31):
        response = client.delete(
            f"/auth/sessions/{session_id}", headers=bearer(mine["access_token"])
        )
        assert response.status_code == 404
    assert client.get("/api/users/me", headers=bearer(theirs["access_token"])).status_code == 200
    body = assert_problem(
        client.delete(f"/auth/sessions/{their_id['id']}", headers=bearer(mine["access_token"])),
        404,
    )
    assert body["detail"] == f"Login session {their_id['id']} does not exist."


def test_last_used_moves_at_most_once_a_minute(client, user, session, sql_statements):
    tokens = login(client, user.username)
    headers = bearer(tokens["access_token"])
    row = session.query(LoginSession).filter_by(user_id=user.id).one()
    used = row.last_used_at
    assert used is not None

    sql_statements.clear()
    for _ in range(3):
        assert client.get("/api/users/me", headers=headers).status_code == 200
    assert not [s for s in sql_statements if s.lstrip().upper().startswith("UPDATE")]
    session.refresh(row)
    assert row.last_used_at == used

    long_ago = utcnow() - timedelta(minutes=2)
    session.execute(
        update(LoginSession).where(LoginSession.id == row.id).values(last_used_at=long_ago)
    )
    session.commit()
    sql_statements.clear()
    for _ in range(3):
        assert client.get("/api/users/me", headers=headers).status_code == 200
    updates = [s for s in sql_statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    session.refresh(row)
    assert row.last_used_at > long_ago + timedelta(seconds=60)
    listed = client.get("/auth/sessions", headers=headers).get_json()
    assert listed[0]["last_used_at"] == row.last_used_at.isoformat()


def test_needs_a_login(client, user):
    assert_problem(client.get("/auth/sessions"), 401)
    assert_problem(client.delete("/auth/sessions/1"), 401)
    assert post_login(client, user.username).status_code == 200
