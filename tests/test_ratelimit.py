"""Rate limits (API.md "Rate limits"): who counts against what, headers, proxies, Redis outages.

Each test builds its own app with limits switched on. Flask-Limiter's ``limiter`` is one
process-global object that every ``create_app`` re-initialises, so the ``make_app`` fixture
also clears the state ``init_app`` keeps from a previous app (the key prefix and the
"storage is dead" flag); with a unique key prefix per test, counters never leak between tests
or between concurrent runs sharing one Redis.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from myproject import create_app
from myproject.extensions import cache, limiter
from tests.support import DEAD_REDIS, PASSWORD, REDIS_TIMEOUTS, bearer, claims_of, refresh

GENEROUS = "1000 per minute"

AppFactory = Callable[..., Flask]


def redis_settings(url: str) -> dict[str, Any]:
    """Overrides that put both the limiter and the cache on the Redis at ``url``."""
    return {
        "REDIS_URL": url,
        "RATELIMIT_STORAGE_URI": url,
        "RATELIMIT_STORAGE_OPTIONS": dict(REDIS_TIMEOUTS),
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": url,
        "CACHE_OPTIONS": dict(REDIS_TIMEOUTS),
    }


@pytest.fixture()
def make_app(db: Any, database_url: str) -> Iterator[AppFactory]:
    """Build apps with limits on, in-process storage by default; one key prefix per test."""
    prefix = f"{os.environ['REDIS_KEY_PREFIX']}-rl-{uuid.uuid4().hex}"
    cache_prefix = f"{os.environ['REDIS_KEY_PREFIX']}-cache-{uuid.uuid4().hex}:"
    on_redis: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        limiter._key_prefix = ""  # init_app keeps the first app's prefix otherwise
        limiter._storage_dead = False  # nor does it forget a previous app's dead storage
        settings: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_KEY_PREFIX": prefix,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_ANONYMOUS": GENEROUS,
            "RATELIMIT_SIGNED_IN": GENEROUS,
            "RATELIMIT_LOGIN": GENEROUS,
            "RATELIMIT_REGISTER": GENEROUS,
            "REDIS_URL": None,
            "CACHE_TYPE": "SimpleCache",
            "CACHE_OPTIONS": None,
            "CACHE_KEY_PREFIX": cache_prefix,
            **overrides,
        }
        app = create_app("testing", settings)
        if settings["REDIS_URL"] not in (None, DEAD_REDIS):
            on_redis.append(app)
        return app

    yield factory
    limiter._storage_dead = False
    limiter.enabled = False  # the limiter is shared: give the session's app its setting back
    if on_redis:
        with on_redis[0].app_context():
            cache.clear()  # this test's cache keys only (its prefix)


def login(client: Any, username: str, password: str = "wrong-password", addr: str = "127.0.0.1"):
    return client.post(
        "/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )


def get_items(client: Any, times: int, **kwargs: Any) -> list[int]:
    return [client.get("/api/items", **kwargs).status_code for _ in range(times)]


# --- the anonymous limit, its 429 and headers ---------------------------------------------


def test_anonymous_caller_over_the_limit_gets_429_problem(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="3 per minute").test_client()
    assert get_items(client, 3) == [200, 200, 200]

    response = client.get("/api/items")

    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 429
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_429_carries_retry_after_in_whole_seconds(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="1 per minute").test_client()
    client.get("/api/items")

    response = client.get("/api/items")

    assert response.status_code == 429
    assert response.headers["Retry-After"].isdigit()
    assert 0 <= int(response.headers["Retry-After"]) <= 60


def test_responses_carry_rate_limit_headers(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="3 per minute").test_client()

    response = client.get("/api/items")

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "2"
    assert response.headers["X-RateLimit-Reset"].isdigit()
    assert "Retry-After" not in response.headers


def test_remaining_counts_down_to_zero(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="3 per minute").test_client()

    remaining = [client.get("/api/items").headers["X-RateLimit-Remaining"] for _ in range(3)]

    assert remaining == ["2", "1", "0"]


# --- authenticated callers and admins ------------------------------------------------------


def test_authenticated_caller_gets_the_higher_default_limit(make_app, auth_headers):
    app = make_app(RATELIMIT_ANONYMOUS="2 per minute", RATELIMIT_SIGNED_IN="5 per minute")
    client = app.test_client()

    statuses = get_items(client, 6, headers=auth_headers)

    assert statuses == [200] * 5 + [429]


def test_authenticated_limit_is_reported_in_headers(make_app, auth_headers):
    app = make_app(RATELIMIT_ANONYMOUS="2 per minute", RATELIMIT_SIGNED_IN="5 per minute")

    response = app.test_client().get("/api/items", headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "5"


def test_users_from_one_address_have_separate_counters(make_app, auth, make_user):
    alice = auth.headers(make_user().username)
    bob = auth.headers(make_user().username)
    client = make_app(RATELIMIT_SIGNED_IN="2 per minute").test_client()
    assert get_items(client, 3, headers=alice) == [200, 200, 429]

    response = client.get("/api/items", headers=bob)

    assert response.status_code == 200


def test_authenticated_caller_does_not_use_the_address_counter(make_app, auth_headers):
    client = make_app(RATELIMIT_ANONYMOUS="1 per minute").test_client()
    assert get_items(client, 2) == [200, 429]

    response = client.get("/api/items", headers=auth_headers)

    assert response.status_code == 200


def test_admin_is_exempt(make_app, admin_headers):
    app = make_app(RATELIMIT_ANONYMOUS="1 per minute", RATELIMIT_SIGNED_IN="1 per minute")

    statuses = get_items(app.test_client(), 5, headers=admin_headers)

    assert statuses == [200] * 5


def test_logged_out_admin_token_counts_as_anonymous(make_app, auth, admin):
    headers = auth.headers(admin.username)
    assert auth.client.post("/auth/logout", headers=headers).status_code == 204
    app = make_app(RATELIMIT_ANONYMOUS="2 per minute", RATELIMIT_SIGNED_IN="5 per minute")

    statuses = get_items(app.test_client(), 3, headers=headers)

    assert statuses == [200, 200, 429]


def test_demoted_admin_token_is_no_longer_exempt(make_app, auth, admin, session):
    headers = auth.headers(admin.username)
    admin.update(is_admin=False)
    app = make_app(RATELIMIT_ANONYMOUS="2 per minute", RATELIMIT_SIGNED_IN="2 per minute")

    statuses = get_items(app.test_client(), 3, headers=headers)

    assert statuses == [200, 200, 429]


# --- premium users: the tier travels in the token ------------------------------------------

TIERS = {"RATELIMIT_SIGNED_IN": "2 per minute", "RATELIMIT_PREMIUM": "4 per minute"}


def set_premium(client: Any, user_id: int, value: bool, admin_headers: dict[str, str]) -> None:
    response = client.patch(
        f"/api/users/{user_id}", json={"is_premium": value}, headers=admin_headers
    )
    assert response.status_code == 200
    assert response.get_json()["is_premium"] is value


def test_premium_user_gets_the_premium_limit_after_refresh(make_app, auth, user, admin_headers):
    tokens = auth.login(user.username)
    set_premium(auth.client, user.id, True, admin_headers)
    renewed = refresh(auth.client, tokens["refresh_token"]).get_json()["access_token"]
    client = make_app(**TIERS).test_client()

    statuses = get_items(client, 5, headers=bearer(renewed))

    assert statuses == [200] * 4 + [429]
    assert claims_of(renewed)["prm"] is True


def test_premium_limit_is_reported_in_headers(make_app, auth, make_user):
    headers = auth.headers(make_user(is_premium=True).username)

    response = make_app(**TIERS).test_client().get("/api/items", headers=headers)

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "4"


def test_token_issued_before_promotion_keeps_the_signed_in_limit(
    make_app, auth, user, admin_headers
):
    headers = auth.headers(user.username)
    set_premium(auth.client, user.id, True, admin_headers)
    client = make_app(**TIERS).test_client()

    statuses = get_items(client, 3, headers=headers)

    assert statuses == [200, 200, 429]


def test_demoted_premium_user_gets_the_signed_in_limit_after_refresh(
    make_app, auth, make_user, admin_headers
):
    member = make_user(is_premium=True)
    tokens = auth.login(member.username)
    set_premium(auth.client, member.id, False, admin_headers)
    renewed = refresh(auth.client, tokens["refresh_token"]).get_json()["access_token"]
    client = make_app(**TIERS).test_client()

    statuses = get_items(client, 3, headers=bearer(renewed))

    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/api/openapi.json"])
def test_operations_paths_are_never_limited(make_app, path):
    client = make_app(RATELIMIT_ANONYMOUS="1 per minute").test_client()

    statuses = [client.get(path).status_code for _ in range(4)]

    assert statuses == [200] * 4


# --- login and registration ---------------------------------------------------------------


def test_login_is_limited_per_address(make_app):
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    assert [login(client, f"nobody{n}").status_code for n in range(2)] == [401, 401]

    response = login(client, "somebody-else")

    assert response.status_code == 429
    assert response.content_type == "application/problem+json"


def test_login_is_limited_per_username_across_addresses(make_app):
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    assert login(client, "alice", addr="10.0.0.1").status_code == 401
    assert login(client, "alice", addr="10.0.0.2").status_code == 401

    response = login(client, "alice", addr="10.0.0.3")

    assert response.status_code == 429


def test_login_username_limit_ignores_case_and_spaces(make_app):
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    assert login(client, "alice", addr="10.0.0.1").status_code == 401
    assert login(client, "ALICE", addr="10.0.0.2").status_code == 401

    response = login(client, " Alice ", addr="10.0.0.3")

    assert response.status_code == 429


def test_login_limit_counts_each_name_case_folded(make_app, user):
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    assert login(client, user.username, addr="10.0.3.1").status_code == 401
    assert login(client, user.username.upper(), addr="10.0.3.2").status_code == 401

    response = login(client, user.username.title(), password=PASSWORD, addr="10.0.3.3")

    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1


def test_exhausting_a_username_leaves_its_email_alone(make_app, user):
    # A shared budget would tell an attacker which email belongs to which username.
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    for n in range(3):
        login(client, user.username, addr=f"10.0.4.{n}")

    response = login(client, user.email, password=PASSWORD, addr="10.0.4.9")

    assert response.status_code == 200


def test_login_limit_on_one_username_leaves_others_alone(make_app, user):
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    for n in range(3):
        login(client, "mallory", addr=f"10.0.1.{n}")

    response = login(client, user.username, password=PASSWORD, addr="10.0.2.1")

    assert response.status_code == 200


def test_login_answers_report_the_address_limit(make_app):
    client = make_app(RATELIMIT_LOGIN="5 per minute").test_client()

    remaining = [login(client, f"name{n}").headers["X-RateLimit-Remaining"] for n in range(3)]

    assert remaining == ["4", "3", "2"]


def test_a_login_body_without_a_name_is_not_counted_per_name(make_app):
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    statuses = [
        client.post(
            "/auth/token", json={"password": "x" * 8}, environ_base={"REMOTE_ADDR": f"10.0.5.{n}"}
        ).status_code
        for n in range(3)
    ]

    response = login(client, "alice", addr="10.0.5.9")

    assert statuses == [422, 422, 422]
    assert response.status_code == 401


def test_login_name_limit_falls_back_to_memory_when_redis_is_down(make_app):
    client = make_app(**redis_settings(DEAD_REDIS), RATELIMIT_LOGIN="2 per minute").test_client()

    statuses = [login(client, "alice", addr=f"10.0.6.{n}").status_code for n in range(3)]

    assert statuses == [401, 401, 429]


def test_registration_is_limited(make_app):
    client = make_app(RATELIMIT_REGISTER="2 per hour").test_client()

    def register(n: int) -> int:
        name = f"new{n}_{uuid.uuid4().hex[:6]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        return client.post("/api/users", json=body).status_code

    statuses = [register(n) for n in range(3)]

    assert statuses[0] == 201
    assert 429 not in statuses[:2]
    assert statuses[2] == 429


def test_registration_limit_does_not_limit_reading_users(make_app):
    client = make_app(RATELIMIT_REGISTER="1 per hour").test_client()
    client.post("/api/users", json={})

    statuses = [client.get("/api/users").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]


def test_registering_does_not_lift_the_anonymous_limit_on_reading_users(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="3 per minute").test_client()
    client.post("/api/users", json={})

    statuses = [client.get("/api/users").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_the_limit_is_one_budget_per_client_across_endpoints(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="2 per minute").test_client()
    assert get_items(client, 2) == [200, 200]

    response = client.get("/api/users")

    assert response.status_code == 429


def test_cors_preflights_are_not_counted(make_app):
    app = make_app(RATELIMIT_ANONYMOUS="1 per minute", CORS_ORIGINS=["https://spa.example"])
    client = app.test_client()
    assert get_items(client, 1) == [200]
    preflight = {"Origin": "https://spa.example", "Access-Control-Request-Method": "PATCH"}

    responses = [client.options("/api/items/1", headers=preflight) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all(r.headers["Access-Control-Allow-Origin"] for r in responses)


# --- client address and proxies -----------------------------------------------------------


def test_forged_forwarded_for_does_not_change_the_key(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="2 per minute").test_client()

    statuses = [
        client.get("/api/items", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
        for n in range(3)
    ]

    assert statuses == [200, 200, 429]


def test_trusted_proxy_forwarded_for_is_the_key(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="1 per minute", TRUSTED_PROXIES=1).test_client()

    def status(addr: str) -> int:
        return client.get("/api/items", headers={"X-Forwarded-For": addr}).status_code

    assert [status("203.0.113.1"), status("203.0.113.1")] == [200, 429]
    assert status("203.0.113.2") == 200


def test_trusted_proxy_login_limit_uses_forwarded_address(make_app):
    client = make_app(RATELIMIT_LOGIN="1 per minute", TRUSTED_PROXIES=1).test_client()

    def status(addr: str, username: str) -> int:
        headers = {"X-Forwarded-For": addr}
        return client.post(
            "/auth/token", json={"username": username, "password": "x" * 8}, headers=headers
        ).status_code

    assert [status("203.0.113.1", "u1"), status("203.0.113.1", "u2")] == [401, 429]
    assert status("203.0.113.2", "u3") == 401


# --- switched off, and Redis unavailable --------------------------------------------------


def test_limits_can_be_disabled(make_app):
    client = make_app(RATELIMIT_ENABLED=False, RATELIMIT_ANONYMOUS="1 per minute").test_client()

    responses = [client.get("/api/items") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in responses[0].headers


def test_unreachable_redis_still_answers_every_request(make_app, auth_headers):
    client = make_app(**redis_settings(DEAD_REDIS)).test_client()

    created = client.post("/api/items", json={"name": "during outage"}, headers=auth_headers)
    item_id = created.get_json()["id"]
    reads = [client.get("/api/items"), client.get(f"/api/items/{item_id}")]
    patched = client.patch(f"/api/items/{item_id}", json={"name": "x"}, headers=auth_headers)

    assert created.status_code == 201
    assert [r.status_code for r in reads] == [200, 200]
    assert patched.status_code == 200


def test_unreachable_redis_limits_fall_back_to_memory(make_app):
    app = make_app(**redis_settings(DEAD_REDIS), RATELIMIT_ANONYMOUS="2 per minute")

    statuses = get_items(app.test_client(), 3)

    assert statuses == [200, 200, 429]


def test_unreachable_redis_logs_one_warning_not_one_per_request(make_app, caplog):
    client = make_app(**redis_settings(DEAD_REDIS)).test_client()
    caplog.set_level(logging.WARNING)

    assert get_items(client, 5) == [200] * 5

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    limiter_warnings = [r for r in warnings if r.name == "flask-limiter"]
    cache_warnings = [r for r in warnings if r.name == "myproject.caching"]
    assert len(limiter_warnings) == 1
    assert len(cache_warnings) == 1


def test_ready_is_degraded_when_redis_is_unavailable(make_app):
    client = make_app(**redis_settings(DEAD_REDIS)).test_client()

    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "unavailable"},
    }


# --- Redis lane: several instances, one Redis ---------------------------------------------


def test_ready_is_ok_with_redis(make_app, requires_redis):
    client = make_app(**redis_settings(requires_redis)).test_client()

    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_limit_is_shared_by_two_instances(make_app, requires_redis):
    limits = {**redis_settings(requires_redis), "RATELIMIT_ANONYMOUS": "3 per minute"}
    first = make_app(**limits).test_client()
    assert get_items(first, 2) == [200, 200]

    # A second instance starts with a fresh storage object: only Redis knows the count.
    second = make_app(**limits).test_client()

    assert get_items(second, 2) == [200, 429]


def test_limit_headers_count_requests_of_both_instances(make_app, requires_redis):
    limits = {**redis_settings(requires_redis), "RATELIMIT_ANONYMOUS": "5 per minute"}
    get_items(make_app(**limits).test_client(), 3)

    response = make_app(**limits).test_client().get("/api/items")

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "1"


def test_login_username_limit_is_shared_by_instances(make_app, requires_redis):
    limits = {**redis_settings(requires_redis), "RATELIMIT_LOGIN": "2 per minute"}
    assert login(make_app(**limits).test_client(), "alice", addr="10.0.0.1").status_code == 401
    second = make_app(**limits).test_client()
    assert login(second, "alice", addr="10.0.0.2").status_code == 401

    response = login(second, "alice", addr="10.0.0.3")

    assert response.status_code == 429


def redis_commands_during(url: str, action: Callable[[], Any]) -> list[str]:
    """The commands clients sent to ``url``'s database while ``action`` ran (Redis MONITOR),
    without those that a Lua script runs inside Redis: one entry per command sent."""
    import redis

    watcher = redis.Redis.from_url(url)
    database = watcher.connection_pool.connection_kwargs.get("db", 0)
    marker = f"end-of-action-{uuid.uuid4().hex}"
    commands: list[str] = []
    signal = redis.Redis.from_url(url)
    signal.ping()  # connects (and SELECTs the database) before anything is watched
    with watcher.monitor() as monitor:
        action()
        signal.echo(marker)
        for entry in monitor.listen():
            if marker in entry["command"]:
                break
            if entry["db"] == database and entry.get("client_type") != "lua":
                commands.append(entry["command"])
    signal.close()
    watcher.close()
    return commands


@pytest.mark.parametrize("path", ["/api/items", "/api/items?page=1&per_page=5"])
def test_a_limited_cached_read_costs_one_redis_round_trip(make_app, requires_redis, path):
    # The limit, its three headers and the cached answer in one script call.
    client = make_app(**redis_settings(requires_redis)).test_client()
    for _ in range(2):  # fills the cache (and Redis' script cache)
        assert client.get(path).status_code == 200
    first = client.get(path)
    responses: list[Any] = []

    commands = redis_commands_during(requires_redis, lambda: responses.append(client.get(path)))

    assert responses[0].status_code == 200
    assert responses[0].get_data() == first.get_data()
    assert responses[0].headers["X-Total-Count"] == first.headers["X-Total-Count"]
    assert responses[0].headers["X-RateLimit-Remaining"] == str(1000 - 4)
    assert int(responses[0].headers["X-RateLimit-Reset"]) > 0
    # Only this app's: other test runs may share the Redis database (DESIGN.md).
    prefixes = (
        client.application.config["RATELIMIT_KEY_PREFIX"],
        client.application.config["CACHE_KEY_PREFIX"],
    )
    ours = [command for command in commands if any(p in command for p in prefixes)]
    assert len(ours) == 1, ours
    assert ours[0].startswith("EVALSHA"), ours


def test_requests_are_answered_when_redis_stops_mid_test(make_app, requires_redis, auth_headers):
    up = make_app(**redis_settings(requires_redis)).test_client()
    assert get_items(up, 2) == [200, 200]

    down = make_app(**redis_settings(DEAD_REDIS)).test_client()
    created = down.post("/api/items", json={"name": "x"}, headers=auth_headers)
    reads = [down.get("/api/items"), down.get(f"/api/items/{created.get_json()['id']}")]

    assert created.status_code == 201
    assert [r.status_code for r in reads] == [200, 200]
