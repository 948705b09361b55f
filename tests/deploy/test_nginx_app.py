"""The real app (production config, PostgreSQL, Redis, TRUSTED_PROXIES=1) behind the shipped
deploy/nginx.conf: the app's answers pass through untouched, forged forwarded headers change
nothing the app does, and 500 slow clients leave it answering (API.md "Capacity")."""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.support import (
    NGINX_PORT,
    Answer,
    Server,
    assert_proxy_problem,
    from_nginx,
    request,
)
from tests.support import PASSWORD

pytestmark = pytest.mark.nginx

HOST = {"Host": f"localhost:{NGINX_PORT}"}
JSON = {"Content-Type": "application/json"}


def post_json(path: str, payload: Any, headers: dict[str, str] | None = None) -> Answer:
    return request("POST", path, json.dumps(payload).encode(), HOST | JSON | (headers or {}))


def register(headers: dict[str, str] | None = None) -> Answer:
    name = f"u{uuid.uuid4().hex[:12]}"
    user = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    answer = post_json("/api/users", user, headers)
    assert answer.status == 201, answer.body[:300]
    return answer


@pytest.fixture(scope="module")
def item_id(stack: Server) -> int:
    username = register().json()["username"]
    token = post_json("/auth/token", {"username": username, "password": PASSWORD})
    assert token.status == 200, token.body[:300]
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    created = post_json("/api/items", {"name": "Lamp"}, bearer)
    assert created.status == 201, created.body[:300]
    return int(created.json()["id"])


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
    deadline = time.monotonic() + 5
    logs = [stack.log.parent / "access.log", gunicorn.log]
    while not all(request_id in log.read_text() for log in logs):
        assert time.monotonic() < deadline, f"{request_id} not in both logs"
        time.sleep(0.1)


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


# --- Capacity under slow clients -------------------------------------------------------------

SLOW_HEADERS = 250  # send their request headers one byte every 2 s
SLOW_BODIES = 250  # send complete headers, then their body one byte every 2 s
SAMPLES = 50


class Tricklers:
    """Slow clients: each socket gets one more byte every 2 s, from one thread."""

    def __init__(self, item_id: int) -> None:
        self.socks: list[socket.socket] = []
        self.stop = threading.Event()
        head = f"GET /api/items/{item_id} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".encode()
        body_head = (
            b"POST /api/items HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        for prefix in [head] * SLOW_HEADERS + [body_head] * SLOW_BODIES:
            sock = socket.create_connection(("127.0.0.1", NGINX_PORT), timeout=5)
            sock.sendall(prefix)
            self.socks.append(sock)
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        turn = 0
        while not self.stop.wait(0.5):
            for sock in self.socks[turn % 4 :: 4]:  # a quarter every 0.5 s: each every 2 s
                with contextlib.suppress(OSError):
                    sock.send(b"a")
            turn += 1

    def open_count(self) -> int:
        count = 0
        for sock in self.socks:
            try:
                sock.setblocking(False)
                count += sock.recv(1, socket.MSG_PEEK) != b""  # data would be an answer
            except BlockingIOError:
                count += 1  # nothing to read: still open, still waiting
            except OSError:
                pass
            finally:
                sock.setblocking(True)
        return count

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.socks:
            sock.close()


@pytest.fixture()
def tricklers(stack: Server, item_id: int) -> Iterator[Tricklers]:
    slow = Tricklers(item_id)
    try:
        yield slow
    finally:
        slow.close()


def test_500_slow_clients_leave_item_reads_under_1_s_at_p99(tricklers, item_id, capsys):
    time.sleep(2)  # every slow client has trickled at least once
    latencies = []
    for _ in range(SAMPLES):
        started = time.monotonic()
        answer = request("GET", f"/api/items/{item_id}", timeout=10)
        latencies.append(time.monotonic() - started)
        assert answer.status == 200, answer.body[:300]
        time.sleep(0.05)
    still_open = tricklers.open_count()

    p99 = sorted(latencies)[math.ceil(0.99 * len(latencies)) - 1]
    with capsys.disabled():
        print(
            f"\n500 slow clients ({still_open} still connected after the run): "
            f"GET /api/items/<id> p50 {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms over {SAMPLES} requests"
        )
    assert still_open == SLOW_HEADERS + SLOW_BODIES  # they were all there all along
    assert p99 < 1.0
