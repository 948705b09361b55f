"""Socket.IO against live servers: two `gunicorn` instances (two workers each, the shipped
gunicorn.conf.py, the production config) on loopback, one PostgreSQL database and one Redis,
driven by python-socketio's client over the websocket transport.

Redis pub/sub channels are shared by every database of a Redis server, so other servers on
the same Redis database may publish events too: the tests look only at their own items.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
import urllib3
from alembic.script import ScriptDirectory

from myproject.config import normalize_database_url
from myproject.extensions import db as _db
from tests.support import TempDatabase, claims_of, wait_for
from tests.test_gunicorn import (
    GOOD_JWT_SECRET,
    ROOT,
    free_port,
    production_settings,
    running,
    server_env,
)

socketio = pytest.importorskip("socketio")

DATABASE = os.environ.get("TEST_DATABASE_URL")
REDIS = os.environ.get("TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not (DATABASE and REDIS),
    reason="needs PostgreSQL and Redis: set TEST_DATABASE_URL and TEST_REDIS_URL",
)
PASSWORD = "live-socket-pass-1"
WAIT = 5.0


class Live:
    """Two instances (``a``, ``b``) on one database and one Redis, and an HTTP client."""

    def __init__(self, a: Any, b: Any, engine: sa.Engine) -> None:
        self.a, self.b, self.engine = a, b, engine
        self.http = urllib3.PoolManager(retries=False, timeout=10)

    def url(self, server: Any) -> str:
        return f"http://127.0.0.1:{server.port}"

    def call(
        self, server: Any, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(
            method,
            self.url(server) + path,
            headers=headers,
            body=None if body is None else json.dumps(body),
        )
        return response.status, (json.loads(response.data) if response.data else None)

    def register(self, name: str) -> tuple[int, str]:
        """A new user's id and an access token of a fresh login."""
        username = f"{name}_{uuid.uuid4().hex[:8]}"
        status, user = self.call(
            self.a,
            "POST",
            "/api/users",
            body={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        )
        assert status == 201, user
        return user["id"], self.login(username)

    def login(self, username_or_id: str | int) -> str:
        username = username_or_id
        if isinstance(username_or_id, int):
            with self.engine.connect() as conn:
                username = conn.scalar(
                    sa.text("SELECT username FROM users WHERE id = :id"), {"id": username_or_id}
                )
        status, tokens = self.call(
            self.a, "POST", "/auth/token", body={"username": username, "password": PASSWORD}
        )
        assert status == 200, tokens
        token: str = tokens["access_token"]
        return token


class Listener:
    """A connected python-socketio client that records every event it gets."""

    def __init__(self, url: str, token: str, *rooms: str) -> None:
        self.events: list[tuple[float, str, Any]] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", lambda name, data: self.events.append((time.monotonic(), name, data)))
        self.client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
        for room in rooms:
            assert self.client.call("join", {"room": room}, timeout=5) == {"ok": True, "room": room}

    def about(self, item_id: int) -> list[tuple[str, Any]]:
        return [(name, data) for _, name, data in self.events if data.get("id") == item_id]

    def wait_for(self, item_id: int, count: int = 1) -> list[tuple[str, Any]]:
        wait_for(
            lambda: len(self.about(item_id)) >= count,
            WAIT,
            lambda: f"{count} events about item {item_id}, got {self.about(item_id)}",
            interval=0.02,
        )
        return self.about(item_id)

    def wait_disconnected(self, timeout: float) -> bool:
        return wait_for(lambda: not self.client.connected, timeout, "the server to disconnect")

    def close(self) -> None:
        self.client.disconnect()


def _schema(url: str) -> sa.Engine:
    engine = sa.create_engine(normalize_database_url(url))
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
    with engine.begin() as conn:
        _db.metadata.create_all(conn)
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:head)"), {"head": head})
    return engine


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    assert DATABASE and REDIS
    with ExitStack() as stack:
        url = stack.enter_context(TempDatabase(normalize_database_url(DATABASE)))
        engine = _schema(url)
        stack.callback(engine.dispose)
        servers = []
        for name in ("a", "b"):
            env = server_env(
                **production_settings(url),
                REDIS_URL=REDIS,
                RATELIMIT_ENABLED="false",
                # python-socketio's client sends its own Origin: a host the service lists.
                ALLOWED_HOSTS="127.0.0.1",
                # Every socket here comes from 127.0.0.1 (the capacity test opens 50).
                SOCKETIO_MAX_PER_ADDRESS="1000",
                WEB_CONCURRENCY="2",
                GUNICORN_BIND=f"127.0.0.1:{free_port()}",
            )
            servers.append(stack.enter_context(running(tmp_path_factory.mktemp(name), env)))
        yield Live(servers[0], servers[1], engine)


@pytest.fixture()
def listeners() -> Iterator[Any]:
    opened: list[Listener] = []

    def factory(url: str, token: str, *rooms: str) -> Listener:
        listener = Listener(url, token, *rooms)
        opened.append(listener)
        return listener

    yield factory
    for listener in opened:
        listener.close()


def refused(url: str, **connect: Any) -> bool:
    client = socketio.Client(reconnection=False)
    connect.setdefault("transports", ["websocket"])
    try:
        client.connect(url, wait_timeout=5, **connect)
    except socketio.exceptions.ConnectionError:
        return True
    client.disconnect()
    return False


# --- connecting -------------------------------------------------------------------------------


def test_refused_connections(live):
    user_id, token = live.register("refused")
    url = live.url(live.a)
    _, tokens = live.call(
        live.a,
        "POST",
        "/auth/token",
        body={"username": live_username(live, user_id), "password": PASSWORD},
    )
    claims = claims_of(token) | {"exp": int(time.time()) - 60}
    expired = jwt.encode(claims, GOOD_JWT_SECRET, algorithm="HS256")
    revoked = live.login(user_id)
    assert live.call(live.a, "POST", "/auth/logout", token=revoked)[0] == 204

    assert not refused(url, auth={"token": token})
    assert refused(url)
    assert refused(url, auth={"token": token[:-3] + "xyz"})
    assert refused(url, auth={"token": expired})
    assert refused(url, auth={"token": revoked})
    assert refused(url, auth={"token": tokens["refresh_token"]})
    assert refused(f"{url}?token={token}")


def live_username(live: Live, user_id: int) -> str:
    with live.engine.connect() as conn:
        name: str = conn.scalar(
            sa.text("SELECT username FROM users WHERE id = :id"), {"id": user_id}
        )
        return name


def test_join_and_leave_are_acknowledged(live, listeners):
    user_id, token = live.register("rooms")
    socket = listeners(live.url(live.a), token)

    assert socket.client.call("join", {"room": f"user:{user_id}"}, timeout=5) == {
        "ok": True,
        "room": f"user:{user_id}",
    }
    assert socket.client.call("leave", {"room": "items"}, timeout=5) == {
        "ok": True,
        "room": "items",
    }
    assert socket.client.call("join", {"room": "user:2000000000"}, timeout=5)["ok"] is False
    assert socket.client.call("join", {"room": "lobby"}, timeout=5)["ok"] is False


# --- events ---------------------------------------------------------------------------------


def test_item_events_reach_the_right_rooms_once(live, listeners):
    owner, token = live.register("owner")
    other, _ = live.register("other")
    url = live.url(live.a)
    in_items, in_owner = listeners(url, token, "items"), listeners(url, token, f"user:{owner}")
    in_both = listeners(url, token, "items", f"user:{owner}")
    elsewhere = listeners(url, token, f"user:{other}")

    status, created = live.call(live.a, "POST", "/api/items", token, {"name": "Live lamp"})
    assert status == 201
    item_id = created["id"]
    live.call(live.a, "PATCH", f"/api/items/{item_id}", token, {"name": "Live lamp 2"})
    _, updated = live.call(live.a, "GET", f"/api/items/{item_id}")
    assert live.call(live.a, "DELETE", f"/api/items/{item_id}", token)[0] == 204

    expected = [
        ("item.created", created),
        ("item.updated", updated),
        ("item.deleted", {"id": item_id}),
    ]
    for socket in (in_items, in_owner, in_both):
        assert socket.wait_for(item_id, 3) == expected
    time.sleep(0.3)  # anything duplicated or misrouted would have arrived by now
    assert in_both.about(item_id) == expected
    assert elsewhere.about(item_id) == []


def test_failed_writes_emit_nothing(live, listeners):
    owner, token = live.register("owner")
    _, intruder = live.register("intruder")
    socket = listeners(live.url(live.a), token, "items", f"user:{owner}")
    status, created = live.call(live.a, "POST", "/api/items", token, {"name": "Kept"})
    assert socket.wait_for(created["id"]) == [("item.created", created)]

    path = f"/api/items/{created['id']}"
    assert live.call(live.a, "PATCH", path, intruder, {"name": "Stolen"})[0] == 403
    assert live.call(live.a, "PATCH", path, token, {"name": ""})[0] == 422
    assert live.call(live.a, "DELETE", path, intruder)[0] == 403
    time.sleep(0.5)

    assert socket.about(created["id"]) == [("item.created", created)]


def test_write_on_one_instance_reaches_a_socket_on_the_other(live, listeners):
    _, token = live.register("far")
    socket = listeners(live.url(live.b), token, "items")

    sent = time.monotonic()
    status, created = live.call(live.a, "POST", "/api/items", token, {"name": "Far lamp"})
    events = socket.wait_for(created["id"])

    assert status == 201
    assert events == [("item.created", created)]
    latency = socket.events[-1][0] - sent
    print(f"write on A -> event on B: {latency * 1000:.1f} ms after the request was sent")
    assert latency < 2


# --- ended logins -----------------------------------------------------------------------------


def test_logout_disconnects_the_socket_on_every_instance(live, listeners):
    user_id, token = live.register("leaver")
    kept = listeners(live.url(live.b), live.login(user_id))
    on_a, on_b = listeners(live.url(live.a), token), listeners(live.url(live.b), token)

    assert live.call(live.a, "POST", "/auth/logout", token=token)[0] == 204
    deadline = time.monotonic() + 5  # API.md: within 5 seconds, on every instance

    assert on_a.wait_disconnected(5)
    assert on_b.wait_disconnected(max(0.0, deadline - time.monotonic()))
    assert kept.client.connected


def test_deactivation_disconnects_the_user_s_sockets(live, listeners):
    user_id, token = live.register("deactivated")
    admin_id, admin = live.register("admin")
    with live.engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET is_admin = true WHERE id = :id"), {"id": admin_id})
    socket = listeners(live.url(live.b), token)

    status, _ = live.call(live.a, "PATCH", f"/api/users/{user_id}", admin, {"is_active": False})

    assert status == 200
    assert socket.wait_disconnected(5)


# --- capacity ---------------------------------------------------------------------------------


def _slow_clients() -> Any:
    spec = importlib.util.spec_from_file_location(
        "slow_clients", ROOT / "bench" / "slow_clients.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_item_reads_stay_fast_under_slow_and_idle_clients(live):
    _, token = live.register("capacity")
    _, item = live.call(live.a, "POST", "/api/items", token, {"name": "Read me"})

    result = _slow_clients().measure(
        live.url(live.a),
        slow=50,
        idle=50,
        reads=50,
        token=token,
        id_max=1,
        first_id=item["id"],
        budget=60,
    )

    print(result)
    assert result["idle_connected"] == 50, result
    assert result["slow_open"] == 50, result
    assert result["failed"] == 0, result
    assert result["p99_ms"] < 1000, result
