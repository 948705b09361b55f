"""A token whose login has ended counts as anonymous for rate limits (API.md "Rate limits"),
decided in the limit's own Redis round trip (``myproject.ratelimit_window``).

Each ending (logout, logout-all, password change, deactivation, deletion) is checked through
HTTP, in process memory and, in the Redis lane, on Redis: after it, the old token's requests
report and spend the anonymous budget of their address, shared with tokenless requests.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask_jwt_extended import decode_token

from myproject.ended_logins import mark_ended
from tests.support import PASSWORD, bearer
from tests.test_ratelimit import make_app, redis_settings  # noqa: F401  (fixture)

READER = "10.0.0.9"
LIMITS = {"RATELIMIT_ANONYMOUS": "3 per minute", "RATELIMIT_SIGNED_IN": "50 per minute"}


@pytest.fixture(params=["memory", "redis"])
def client(request: Any, make_app: Any, redis_url: str | None) -> Any:  # noqa: F811
    settings = dict(LIMITS)
    if request.param == "redis":
        if not redis_url:
            pytest.skip("needs Redis: set TEST_REDIS_URL")
        settings.update(redis_settings(redis_url))
    return make_app(**settings).test_client()


def login(client: Any, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return bearer(response.get_json()["access_token"])


def limit_of(client: Any, headers: dict[str, str]) -> tuple[int, str, str]:
    """A read from an address of its own (logins and the other calls count on 127.0.0.1)."""
    response = client.get("/api/items", headers=headers, environ_base={"REMOTE_ADDR": READER})
    return (
        response.status_code,
        response.headers.get("X-RateLimit-Limit", ""),
        response.headers.get("X-RateLimit-Remaining", ""),
    )


def assert_counts_as_anonymous(client: Any, headers: dict[str, str]) -> None:
    assert limit_of(client, headers) == (200, "3", "2")
    assert limit_of(client, {}) == (200, "3", "1")  # the same bucket as tokenless requests
    assert limit_of(client, headers) == (200, "3", "0")
    assert limit_of(client, headers)[0] == 429


def test_a_live_token_keeps_its_tier(client, user):
    headers = login(client, user.username)

    assert [limit_of(client, headers) for _ in range(2)] == [(200, "50", "49"), (200, "50", "48")]


def test_after_logout(client, user):
    headers = login(client, user.username)
    assert limit_of(client, headers)[1] == "50"

    assert client.post("/auth/logout", headers=headers).status_code == 204

    assert_counts_as_anonymous(client, headers)


def test_after_logout_all(client, user):
    first, second = login(client, user.username), login(client, user.username)

    assert client.post("/auth/logout-all", headers=first).status_code == 204

    assert_counts_as_anonymous(client, second)


def test_after_a_password_change_other_logins_count_as_anonymous(client, user):
    changer, other = login(client, user.username), login(client, user.username)

    response = client.patch(
        f"/api/users/{user.id}",
        json={"password": "a-new-password-123", "current_password": PASSWORD},
        headers=changer,
    )

    assert response.status_code == 200, response.get_json()
    assert limit_of(client, changer)[1] == "50"  # the login that changed it lives on
    assert_counts_as_anonymous(client, other)


def test_after_deactivation(client, user, admin):
    headers = login(client, user.username)
    admin_headers = login(client, admin.username)

    response = client.patch(
        f"/api/users/{user.id}", json={"is_active": False}, headers=admin_headers
    )

    assert response.status_code == 200, response.get_json()
    assert_counts_as_anonymous(client, headers)


def test_after_deletion(client, user, admin):
    headers = login(client, user.username)
    admin_headers = login(client, admin.username)

    assert client.delete(f"/api/users/{user.id}", headers=admin_headers).status_code == 204

    assert_counts_as_anonymous(client, headers)


def test_another_deployment_s_ended_login_is_not_this_one_s(make_app, user, redis_url):  # noqa: F811
    # Two deployments on one Redis, each with its own key prefix: session ids are per database,
    # so the same id ending in the other one must not make a live login here count as anonymous.
    if not redis_url:
        pytest.skip("needs Redis: set TEST_REDIS_URL")
    ours = make_app(**LIMITS, **redis_settings(redis_url))
    client = ours.test_client()
    headers = login(client, user.username)
    session_id = decode_token(headers["Authorization"].split()[1], allow_expired=True)["sid"]
    theirs = make_app(**LIMITS, **redis_settings(redis_url))
    theirs.config["RATELIMIT_KEY_PREFIX"] += "-theirs"

    with theirs.app_context():
        mark_ended([session_id])
    assert limit_of(client, headers)[1] == "50"

    with ours.app_context():
        mark_ended([session_id])
    assert limit_of(client, headers)[1] == "3"
