"""The real app (production config, PostgreSQL, Redis, TRUSTED_PROXIES=1) behind the shipped
deploy/nginx.conf: the app's answers pass through untouched and forged forwarded headers change
nothing the app does. Socket.IO and capacity through nginx: test_nginx_realtime.py."""

from __future__ import annotations

import http.client

import pytest

from tests.deploy.support import (
    NGINX_PORT,
    assert_proxy_problem,
    from_nginx,
    post_json,
    register,
    request,
)
from tests.support import wait_for

pytestmark = pytest.mark.nginx


def test_the_apps_own_404_passes_through_untouched(stack):
    answer = request("GET", "/api/items/999999", headers={"X-Request-ID": "trace-404"})

    body = assert_proxy_problem(answer, 404)
    assert not from_nginx(answer)
    assert body["instance"] == "/api/items/999999"
    assert body["request_id"] == "trace-404"


def test_the_apps_own_422_passes_through_with_its_errors(stack):
    answer = post_json("/api/users", {"username": "x"})

    assert answer.status == 422
    assert answer.mimetype == "application/problem+json"
    assert not from_nginx(answer)
    assert "json" in answer.json()["errors"]


def test_the_apps_own_413_passes_through_untouched(stack):
    # The app runs with MAX_CONTENT_LENGTH=1000 here: a 2 KB body is the app's to refuse.
    answer = post_json("/api/items", {"name": "x" * 2000})

    body = assert_proxy_problem(answer, 413)
    assert not from_nginx(answer)
    assert "1 MiB" not in body["detail"]  # not nginx's text


def test_forged_forwarded_headers_do_not_reach_location(stack):
    forged = {
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Port": "666",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "203.0.113.7",
    }
    answer = register(forged)

    user_id = answer.json()["id"]
    assert answer.headers["Location"] == f"http://localhost:{NGINX_PORT}/api/users/{user_id}"


def test_a_forged_x_forwarded_for_does_not_change_the_rate_limit_key(stack, item_id):
    path = f"/api/items/{item_id}"
    remaining = [
        int(request("GET", path, headers=forged).headers["X-RateLimit-Remaining"])
        for forged in ({}, {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "10.9.8.7"})
    ]

    # One bucket, the address nginx saw: each request spent one from it.
    assert remaining == [remaining[0], remaining[0] - 1, remaining[0] - 2]


def test_one_request_id_in_nginx_log_app_log_and_answer(stack, gunicorn):
    answer = request("GET", "/health")

    request_id = answer.headers["X-Request-ID"]
    assert answer.status == 200 and not from_nginx(answer)
    logs = [stack.log.parent / "access.log", gunicorn.log]
    wait_for(
        lambda: all(request_id in log.read_text() for log in logs), 5, f"{request_id} in both logs"
    )


def test_keep_alive_serves_several_requests_on_one_connection(stack, item_id):
    conn = http.client.HTTPConnection("127.0.0.1", NGINX_PORT, timeout=10)
    try:
        answers = [request("GET", f"/api/items/{item_id}", conn=conn) for _ in range(3)]
        sock = conn.sock
        answers.append(request("GET", "/health", conn=conn))
        assert conn.sock is sock  # http.client did not have to reconnect
    finally:
        conn.close()

    assert [a.status for a in answers] == [200, 200, 200, 200]
    assert not any(a.will_close for a in answers)


def test_a_request_line_of_8_kib_reaches_the_app(stack):
    path = "/api/items/" + "x" * (8190 - len("GET /api/items/ HTTP/1.1"))
    answer = request("GET", path)

    body = assert_proxy_problem(answer, 404)  # the app's: a non-integer id
    assert not from_nginx(answer)
    assert body["instance"] == path


def test_the_apps_own_414_for_a_long_query_string_passes_through(stack):
    answer = request("GET", "/api/items?filler=" + "a" * 5000)

    assert_proxy_problem(answer, 414)
    assert not from_nginx(answer)


def test_long_link_headers_come_back_through_the_proxy(stack):
    # Links keep the other query parameters: a 4 KB one makes 8 KB of Link header.
    answer = request("GET", "/api/items?per_page=1&filler=" + "a" * 4000)

    assert answer.status == 200
    assert isinstance(answer.json(), list)
    assert answer.headers["Link"].count("a" * 4000) >= 2  # first and last
