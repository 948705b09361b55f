"""API keys and login sessions across instances: two `gunicorn` instances on one PostgreSQL
database and one Redis (the fixtures of tests/test_realtime_live.py)."""

# ruff: noqa: F811  (the imported fixtures are the test functions' arguments)

from __future__ import annotations

import pytest

from tests.test_realtime_live import (  # noqa: F401  (fixtures)
    Live,
    listeners,
    live,
    pytestmark,
    refused,
)

pytestmark = pytestmark  # noqa: PLW0127  (skipped without PostgreSQL and Redis)


def _key(live: Live, token: str, scopes: list[str]) -> dict[str, str]:
    status, key = live.call(
        live.a, "POST", "/auth/api-keys", token, {"name": "live", "scopes": scopes}
    )
    assert status == 201, key
    return key


def test_a_key_revoked_on_one_instance_is_refused_on_the_other_at_once(live):
    _, token = live.register("keyholder")
    key = _key(live, token, ["users:read"])
    for server in (live.a, live.b, live.b):  # cached on both instances' shared Redis
        assert live.call(server, "GET", "/api/users/me", key["token"])[0] == 200

    assert live.call(live.a, "DELETE", f"/auth/api-keys/{key['id']}", token)[0] == 204

    status, body = live.call(live.b, "GET", "/api/users/me", key["token"])
    assert status == 401, body
    assert live.call(live.a, "GET", "/api/users/me", key["token"])[0] == 401


def test_a_deactivated_owner_s_key_stops_at_once_everywhere(live):
    import sqlalchemy as sa

    user_id, token = live.register("keyowner")
    key = _key(live, token, ["items:read"])
    assert live.call(live.b, "GET", "/api/items", key["token"])[0] == 200
    with live.engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET is_active = false WHERE id = :id"), {"id": user_id})
    assert live.call(live.b, "GET", "/api/items", key["token"])[0] == 401


def test_socket_io_refuses_keys(live):
    _, token = live.register("socketkey")
    key = _key(live, token, ["items:read", "items:write", "users:read", "users:write"])
    assert refused(live.url(live.a), auth={"token": key["token"]})


@pytest.mark.parametrize("where", ["a", "b"])
def test_ending_a_login_closes_its_sockets(live, listeners, where):
    user_id, laptop = live.register("devices")
    phone = live.login(user_id)
    socket = listeners(live.url(getattr(live, where)), phone)
    kept = listeners(live.url(live.b), laptop)
    _, sessions = live.call(live.a, "GET", "/auth/sessions", phone)
    (phone_id,) = [s["id"] for s in sessions if s["current"]]

    assert live.call(live.a, "DELETE", f"/auth/sessions/{phone_id}", laptop)[0] == 204

    assert socket.wait_disconnected(5)
    assert kept.client.connected
    assert live.call(live.b, "GET", "/api/users/me", phone)[0] == 401
