"""Socket.IO against a hostile client, on a real `gunicorn` (gunicorn.conf.py, gevent, the
production config) on a free loopback port: python-socketio clients, raw WebSockets and raw
HTTP. Redis (``TEST_REDIS_URL``) when the lane has it, else per-process counts (one worker).

The 10-second flood is in tests/test_realtime_flood.py (marker ``flood``, ``make flood-test``).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import urllib3
import websocket

from tests.support import free_port, wait_for
from tests.test_gunicorn import migrated_database, production_settings, running, server_env

socketio = pytest.importorskip("socketio")

__all__ = ["migrated_database"]  # a fixture, used by name

REDIS = os.environ.get("TEST_REDIS_URL")
PASSWORD = "edge-socket-pass-1"
LIMIT = 20


class Edge:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.port}"
        self.http = urllib3.PoolManager(retries=False, timeout=10)

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        return self.http.request(
            method,
            self.url + path,
            body=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json", **headers},
        )

    def token(self) -> str:
        name = f"edge_{uuid.uuid4().hex[:8]}"
        user = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert self.call("POST", "/api/users", user).status == 201
        answer = self.call("POST", "/auth/token", {"username": name, "password": PASSWORD})
        assert answer.status == 200, answer.data
        token: str = answer.json()["access_token"]
        return token

    def connect(self, token: str | None) -> Any:
        # Not a browser: no Origin (python-socketio's websocket client would send its own).
        client = socketio.Client(
            reconnection=False, websocket_extra_options={"suppress_origin": True}
        )
        client.connect(
            self.url,
            auth=None if token is None else {"token": token},
            transports=["websocket"],
            wait_timeout=5,
        )
        return client

    def raw(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one raw HTTP request."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as sock:
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            while len(body) < int(headers.get("Content-Length", 0)):
                body += sock.recv(65536)
            return int(lines[0].split()[1]), headers, body


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory, migrated_database: str) -> Iterator[Edge]:
    env = server_env(
        **production_settings(migrated_database),
        RATELIMIT_ENABLED="false",
        REDIS_URL=REDIS,
        SOCKETIO_MAX_PER_ADDRESS="20",
        CORS_ORIGINS="https://spa.example",
        GUNICORN_BIND=f"127.0.0.1:{free_port()}",
    )
    if REDIS:  # claims left by servers of earlier modules (killed, so never released)
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter("myproject-rl-socketio:sockets:*"):
            client.delete(key)
    with running(tmp_path_factory.mktemp("edge"), env) as server:
        yield Edge(server)


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == expected and problem["request_id"] == headers["X-Request-ID"]


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", *headers]
    if not any(h.lower().startswith("host:") for h in headers):
        lines.append("Host: localhost")
    return ("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1")


UPGRADE = ("Upgrade: websocket", "Connection: Upgrade")
WS = "/socket.io/?EIO=4&transport=websocket"


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(get(WS, *UPGRADE), id="upgrade-without-key-or-version"),
        pytest.param(
            get(WS, *UPGRADE, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: !!!"),
            id="upgrade-with-a-bad-key",
        ),
        pytest.param(
            get(WS, *UPGRADE, "Sec-WebSocket-Version: 8", "Sec-WebSocket-Key: " + "A" * 22 + "=="),
            id="upgrade-with-an-old-version",
        ),
        pytest.param(get("/socket.io/?EIO=4&transport=polling&sid=nope"), id="bad-sid"),
        pytest.param(get("/socket.io/?EIO=4&transport=flash"), id="bad-transport"),
        pytest.param(get("/socket.io/?EIO=3&transport=polling"), id="old-protocol"),
        pytest.param(get("/socket.io/?EIO=4&transport=polling&j=0"), id="jsonp"),
        pytest.param(
            get(
                "/socket.io/?EIO=4&transport=polling",
                "Host: evil.example",
                "Origin: http://evil.example",
            ),
            id="origin-repeating-a-forged-host",
        ),
        pytest.param(
            get("/socket.io/?EIO=4&transport=polling", "Origin: http://localhost"),
            id="own-origin-without-allowed-hosts",
        ),
    ],
)
def test_refusals_are_problem_json(edge, request_bytes):
    before = edge.server.output()

    status, headers, body = edge.raw(request_bytes)

    assert_problem(status, headers, body, 400)
    assert headers["X-Frame-Options"] == "DENY"
    time.sleep(0.1)
    assert "Traceback" not in edge.server.output()[len(before) :]


def test_an_allowed_origin_and_a_non_browser_may_poll(edge):
    for extra in (("Origin: https://spa.example",), ()):
        status, headers, body = edge.raw(get("/socket.io/?EIO=4&transport=polling", *extra))
        assert status == 200, body


def test_refused_connection_is_closed_at_once(edge):
    url = f"ws://127.0.0.1:{edge.server.port}{WS}"
    ws = websocket.create_connection(url, timeout=5, suppress_origin=True)  # not a browser
    try:
        assert ws.recv().startswith("0{")  # Engine.IO open
        ws.send("40")  # Socket.IO connect, without a token
        assert ws.recv().startswith("44")  # connect error
        start = time.monotonic()
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            while time.monotonic() - start < 3:
                ws.recv()
        assert time.monotonic() - start < 1.0
    finally:
        ws.close()


def test_event_limit_then_disconnect(edge):
    client = edge.connect(edge.token())
    try:
        acks = [client.call("leave", {"room": "items"}, timeout=5) for _ in range(LIMIT)]
        assert acks == [{"ok": True, "room": "items"}] * LIMIT

        assert client.call("join", {"room": "items"}, timeout=5) == {
            "ok": False,
            "error": "rate limited",
        }
        for _ in range(LIMIT):
            if not client.connected:
                break
            client.emit("join", {"room": "items"})
        assert wait_for(lambda: not client.connected, 2, "the flooding socket to be dropped")
    finally:
        client.disconnect()
    log = edge.server.output()
    assert "Traceback" not in log
    assert log.count("over SOCKETIO_EVENT_LIMIT") == 1


@pytest.mark.parametrize(
    "room",
    [
        "user:" + "9" * 4301,
        "user:" + "1" * 59,
        "user:2147483648",
        "user:0",
        "user:-1",
        "user:+1",
        "user: 1",
        "user:١",
        "x" * 65,
        ["items"],
        None,
    ],
)
def test_bad_room_names_are_answered_not_raised(edge, room, request):
    client = request.getfixturevalue("signed_in")
    ack = client.call("join", {"room": room}, timeout=5)
    assert ack["ok"] is False and ack["error"]


@pytest.fixture()
def signed_in(edge: Edge) -> Iterator[Any]:
    client = edge.connect(edge.token())
    yield client
    client.disconnect()


def test_the_21st_socket_of_an_address_is_refused(edge):
    token = edge.token()
    clients = [edge.connect(token) for _ in range(20)]
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            edge.connect(token)
        clients.pop().disconnect()  # counted down on disconnect
        wait_for(lambda: _connects(edge, token), 3, "a place to free up")
    finally:
        for client in clients:
            client.disconnect()


def _connects(edge: Edge, token: str) -> bool:
    try:
        edge.connect(token).disconnect()
    except socketio.exceptions.ConnectionError:
        return False
    return True
