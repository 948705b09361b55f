"""Nothing secret in the log: after every flow that records an event, no row holds a password,
a token or a hash (API.md "Security events")."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from myproject.extensions import mail
from myproject.models import LoginSession, PasswordReset, SecurityEvent, User
from myproject.security_events import TYPES
from tests.accounts.support import change, to, verify
from tests.jobs.support import ask_reset, confirm_reset, token_in
from tests.security_events.support import ALL, listing
from tests.support import PASSWORD, bearer, post_login, refresh

SECOND, THIRD, FOURTH = "second-password-2", "third-password-3", "fourth-password-4"


def test_a_full_flow_leaves_no_secret_in_any_event(app: Flask, client, user, admin, session):
    with mail.record_messages() as outgoing:
        _full_flow(app, client, user, session, outgoing)


def _full_flow(app: Flask, client, user, session, outgoing) -> None:
    secrets: set[str] = {PASSWORD, SECOND, THIRD, FOURTH}
    alice = f"/api/users/{user.id}"
    admin_headers = bearer(post_login(client, "root").get_json()["access_token"])
    post_login(client, "alice", "wrong-" + PASSWORD)
    first = post_login(client, "alice").get_json()
    secrets |= {first["access_token"], first["refresh_token"]}
    rotated = refresh(client, first["refresh_token"]).get_json()
    refresh(client, first["refresh_token"])  # reuse: the login ends
    secrets |= {rotated["access_token"], rotated["refresh_token"]}
    tokens = post_login(client, "alice").get_json()
    headers = bearer(tokens["access_token"])
    secrets |= {tokens["access_token"], tokens["refresh_token"]}
    patch = {"password": SECOND, "current_password": PASSWORD}
    assert client.patch(alice, json=patch, headers=headers).status_code == 200
    patch = {"email": "alice2@example.com", "current_password": SECOND}
    assert change(client, user.id, patch, headers).status_code == 200  # its jobs run
    verify_token = token_in(to(outgoing, "alice2@example.com", "Verify")[0].body)
    secrets.add(verify_token)
    assert verify(client, verify_token).status_code == 204
    created = client.post(
        "/auth/api-keys", json={"name": "ci", "scopes": ["items:read"]}, headers=headers
    )
    assert created.status_code == 201
    secrets.add(created.get_json()["token"])
    key_url = f"/auth/api-keys/{created.get_json()['id']}"
    assert client.delete(key_url, headers=headers).status_code == 204
    other = post_login(client, "alice", SECOND).get_json()
    secrets |= {other["access_token"], other["refresh_token"]}
    ended = client.get("/auth/sessions", headers=headers).get_json()
    other_id = next(s["id"] for s in ended if not s["current"])
    assert client.delete(f"/auth/sessions/{other_id}", headers=headers).status_code == 204
    with mail.record_messages() as sent:
        assert ask_reset(client, "alice2@example.com").status_code == 202
        reset_token = token_in(sent[-1].body)
    secrets.add(reset_token)
    assert confirm_reset(client, reset_token, THIRD).status_code == 204
    headers = bearer(post_login(client, "alice", THIRD).get_json()["access_token"])
    client.post("/auth/logout-all", headers=headers)
    headers = bearer(post_login(client, "alice", THIRD).get_json()["access_token"])
    client.post("/auth/logout", headers=headers)
    patch = {"password": FOURTH, "is_active": False}
    client.patch(alice, json=patch, headers=admin_headers)
    session.expire_all()
    secrets |= set(session.scalars(select(User.password_hash)))
    secrets |= set(session.scalars(select(LoginSession.refresh_jti)))
    secrets |= set(session.scalars(select(PasswordReset.token_hash)))
    secrets.add(app.config["SECRET_KEY"])
    assert client.delete(alice, headers=admin_headers).status_code == 204

    events = session.scalars(select(SecurityEvent)).all()
    dumped = json.dumps(
        [[e.type, e.user_id, e.actor_id, e.ip, e.user_agent, e.detail] for e in events]
    )
    served = json.dumps(listing(client, ALL, admin_headers, per_page=100))
    assert {e.type for e in events} == set(TYPES)
    assert [s for s in secrets if s and (s in dumped or s in served)] == []
