"""Which account changes record which security event (API.md "Security events"), through
HTTP: type, user, actor, origin, and written with the change or not at all."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from myproject import security_events
from myproject.models import SecurityEvent
from myproject.models.base import utcnow
from myproject.models.resource import AppendOnlyError
from tests.security_events.support import AGENT, ALL, listing, types
from tests.support import PASSWORD, bearer, post_login, refresh


def rows(session: Any, **where: Any) -> list[SecurityEvent]:
    session.expire_all()
    stmt = select(SecurityEvent).filter_by(**where).order_by(SecurityEvent.id)
    return list(session.scalars(stmt))


def test_a_login_records_its_origin_and_session(client, user, session):
    response = client.post(
        "/auth/token", json={"username": "alice", "password": PASSWORD}, headers=AGENT
    )
    assert response.status_code == 200

    (event,) = rows(session, type="login")
    assert (event.user_id, event.actor_id) == (user.id, user.id)
    assert event.ip == "127.0.0.1"
    assert event.user_agent == AGENT["User-Agent"]
    assert set(event.detail) == {"session_id"}


def test_the_origin_is_the_one_the_limiter_sees_behind_a_trusted_proxy(app, client, user, session):
    forwarded = {**AGENT, "X-Forwarded-For": "203.0.113.9"}
    trusted = app.config["TRUSTED_PROXIES"]
    post_login(client, "alice")
    client.post("/auth/token", json={"username": "alice", "password": PASSWORD}, headers=forwarded)

    ips = [event.ip for event in rows(session, type="login")]
    # Without a trusted proxy a forged header changes nothing.
    assert ips == ["127.0.0.1", "203.0.113.9" if trusted else "127.0.0.1"]


def test_a_failed_login_is_recorded_for_an_existing_account_only(client, user, session):
    assert post_login(client, "alice", "wrong-password-1").status_code == 401
    assert post_login(client, "nobody-here", "wrong-password-1").status_code == 401

    (event,) = rows(session)
    assert (event.type, event.user_id, event.actor_id) == ("login_failed", user.id, None)
    assert event.detail == {"reason": "wrong_password"}


def test_a_login_to_a_deactivated_account_is_a_failed_login(client, make_user, session):
    sleeper = make_user("sleeper", is_active=False)

    assert post_login(client, "sleeper").status_code == 401

    assert [(e.type, e.user_id, e.detail) for e in rows(session)] == [
        ("login_failed", sleeper.id, {"reason": "inactive"})
    ]


def test_logout_and_logout_all(client, auth, user, session):
    first = auth.login("alice")
    second = auth.headers("alice")

    assert client.post("/auth/logout", headers=bearer(first["access_token"])).status_code == 204
    assert client.post("/auth/logout-all", headers=second).status_code == 204

    logout = rows(session, type="logout")[0]
    assert logout.actor_id == user.id
    assert [e.type for e in rows(session)] == ["login", "login", "logout", "logout_all"]


def test_a_reused_refresh_token_is_recorded_once(client, tokens, user, session):
    assert refresh(client, tokens["refresh_token"]).status_code == 200
    assert refresh(client, tokens["refresh_token"]).status_code == 401
    assert refresh(client, tokens["refresh_token"]).status_code == 401  # the login is over

    (event,) = rows(session, type="token_reuse_detected")
    assert (event.user_id, event.actor_id) == (user.id, None)
    assert "session_id" in event.detail


def test_own_password_and_email_changes(client, user, auth_headers, session):
    body = {"password": "a-new-password-9", "current_password": PASSWORD}
    assert client.patch(f"/api/users/{user.id}", json=body, headers=auth_headers).status_code == 200
    body = {"email": "alice2@example.com", "current_password": "a-new-password-9"}
    assert client.patch(f"/api/users/{user.id}", json=body, headers=auth_headers).status_code == 200
    same = {"email": "ALICE2@example.com", "current_password": "a-new-password-9"}  # no change
    assert client.patch(f"/api/users/{user.id}", json=same, headers=auth_headers).status_code == 200

    assert [e.type for e in rows(session)] == ["login", "password_changed", "email_changed"]
    changed = rows(session, type="email_changed")[0]
    assert changed.actor_id == user.id
    assert changed.detail == {"old_email": "alice@example.com", "new_email": "alice2@example.com"}


def test_a_refused_change_records_nothing(client, user, auth_headers, session):
    body = {"password": "a-new-password-9", "current_password": "not-it-at-all"}

    assert client.patch(f"/api/users/{user.id}", json=body, headers=auth_headers).status_code == 422

    assert [e.type for e in rows(session)] == ["login"]


def test_an_admin_changing_a_user(client, user, admin, admin_headers, session):
    body = {"is_active": False, "is_premium": True, "username": "alice"}

    assert (
        client.patch(f"/api/users/{user.id}", json=body, headers=admin_headers).status_code == 200
    )

    events = rows(session, user_id=user.id)
    assert [e.type for e in events] == ["user_deactivated", "user_updated_by_admin"]
    assert {e.actor_id for e in events} == {admin.id}
    assert events[1].detail == {"fields": ["is_active", "is_premium"]}


def test_an_admin_setting_a_password_names_the_field_only(client, user, admin_headers, session):
    body = {"password": "admin-chose-this-1"}

    assert (
        client.patch(f"/api/users/{user.id}", json=body, headers=admin_headers).status_code == 200
    )

    events = {e.type: e.detail for e in rows(session, user_id=user.id)}
    assert events == {"password_changed": {}, "user_updated_by_admin": {"fields": ["password"]}}


def test_deleted_users_keep_their_events(client, user, auth_headers, admin_headers, session):
    user_id = user.id

    assert client.delete(f"/api/users/{user_id}", headers=auth_headers).status_code == 204

    kept = listing(client, ALL, admin_headers, user=user_id)
    assert [e["type"] for e in kept] == ["user_deleted", "login"]
    assert kept[0]["user_id"] == kept[0]["actor_id"] == user_id


def test_an_account_reusing_an_id_does_not_see_the_old_accounts_events(
    client, auth, make_user, user, auth_headers
):
    # SQLite gives the highest id again after a delete; the listing starts at the account.
    user_id = user.id
    assert client.delete(f"/api/users/{user_id}", headers=auth_headers).status_code == 204
    newcomer = make_user("newcomer")

    assert types(client, auth.headers("newcomer")) == ["login"]
    assert newcomer.id == user_id or newcomer.id > user_id


def test_an_event_is_written_with_its_transaction_or_not_at_all(app, session, user):
    security_events.record("logout", user_id=user.id)
    session.rollback()
    security_events.record("logout_all", user_id=user.id)
    session.commit()

    assert [e.type for e in rows(session)] == ["logout_all"]


def test_events_are_append_only(session, user):
    event = security_events.record("logout", user_id=user.id)
    session.commit()

    event.type = "login"
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()
    session.delete(session.get(SecurityEvent, event.id))
    with pytest.raises(AppendOnlyError):
        session.flush()


@pytest.mark.parametrize("detail", [{"password": "x"}, {"reset_token": "x"}, {"Hash": "x"}])
def test_record_refuses_a_secret_detail_and_an_unknown_type(app, user, detail):
    with pytest.raises(ValueError, match="secret"):
        security_events.record("login", user_id=user.id, detail=detail)
    with pytest.raises(ValueError, match="unknown"):
        security_events.record("logged_in", user_id=user.id)


def test_a_user_agent_that_cannot_be_stored_is_cleaned(app, client, user, session):
    agent = {"User-Agent": "a\x00b" + "x" * 600}

    client.post("/auth/token", json={"username": "alice", "password": PASSWORD}, headers=agent)

    (event,) = rows(session)
    assert event.user_agent == ("ab" + "x" * 600)[:512]


def test_no_origin_outside_a_request(app, session, user):
    security_events.record("logout", user_id=user.id)
    session.commit()

    (event,) = rows(session)
    assert (event.ip, event.user_agent) == (None, None)
    assert event.created_at <= utcnow()
    assert session.scalar(select(func.count()).select_from(SecurityEvent)) == 1
