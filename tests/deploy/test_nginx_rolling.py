"""Rolling restart behind the shipped deploy/nginx.conf (API.md "Deployment"): two gunicorn
instances, each in turn stopped with SIGTERM and started again, while 16 clients read and
write through nginx: no request fails, no write is lost, and every Socket.IO client is back
(on the other instance) within 5 s. Own ports, database and Redis key prefix
(tests/deploy/stack.py)."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import socketio

from myproject.config import normalize_database_url
from tests.deploy.conftest import DATABASE_URL, nginx_binary
from tests.deploy.stack import (
    REDIS_URL,
    Instance,
    Ports,
    app_env,
    forget_keys,
    migrate,
    render_config,
    self_signed,
)
from tests.deploy.support import Server, nginx_prefix, start_nginx
from tests.support import PASSWORD, TempDatabase

pytestmark = pytest.mark.nginx

CLIENTS = 16
SOCKETS = 4
BACK_WITHIN = 5.0
# A client waits longer than nginx can take to answer (proxy_read_timeout 35 s, after at most
# proxy_next_upstream_timeout 10 s of tries): nginx's answer decides, a 502 or 504 fails the
# test, and a request slow on a loaded machine (an instance's workers still booting) does not.
CLIENT_TIMEOUT = 90


@dataclass
class Stack:
    ports: Ports
    instances: list[Instance]
    database: str
    nginx: Server


@pytest.fixture(scope="module")
def rolling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (`make e2e-nginx` installs Debian's nginx)")
    forget_keys()
    ports = Ports(apps=[Ports().apps[0], Ports().apps[0]])
    logs = tmp_path_factory.mktemp("rolling")
    with TempDatabase(DATABASE_URL) as database, nginx_prefix() as prefix:
        # ALLOWED_HOSTS as an operator sets it: the Socket.IO clients' own Origin is then allowed.
        env = app_env(database, REDIS_URL, WEB_CONCURRENCY="2", ALLOWED_HOSTS="127.0.0.1")
        migrate(env)
        instances = [Instance(port, env, logs / f"gunicorn-{port}.log") for port in ports.apps]
        nginx: Server | None = None
        try:
            for instance in instances:
                instance.start()
            cert, key = self_signed(prefix)
            nginx = start_nginx(binary, prefix, render_config(prefix, ports, cert, key), ports.http)
            yield Stack(ports, instances, database, nginx)
        finally:
            if nginx is not None:
                nginx.stop()
                for name in ("error.log", "access.log"):  # kept with the gunicorn logs
                    if (nginx.log.parent / name).exists():
                        shutil.copy(nginx.log.parent / name, logs / f"nginx-{name}")
            for instance in instances:
                instance.stop()
            forget_keys()


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, token: str = ""
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    answer = conn.getresponse()
    data = answer.read()
    return answer.status, (json.loads(data) if data else None)


@dataclass
class Client:
    """Creates an item, reads it, renames it, reads it: over one kept-alive connection."""

    port: int
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    items: dict[int, str] = field(default_factory=dict)  # id -> the name last written
    token: str = ""

    def setup(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
        name = f"r{uuid.uuid4().hex[:12]}"
        user = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert call(conn, "POST", "/api/users", user)[0] == 201
        status, body = call(conn, "POST", "/auth/token", {"username": name, "password": PASSWORD})
        assert status == 200, body
        self.token = body["access_token"]
        conn.close()

    def run(self, stop: threading.Event) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                self.step(conn, n)
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(f"{type(error).__name__}: {error}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
        conn.close()

    def step(self, conn: http.client.HTTPConnection, n: int) -> None:
        status, body = call(conn, "POST", "/api/items", {"name": f"item {n}"}, self.token)
        self.check("POST", status, 201, body)
        if status != 201:
            return
        item_id = int(body["id"])
        self.items[item_id] = f"item {n}"
        self.check("GET", *call(conn, "GET", f"/api/items/{item_id}", token=self.token)[:1], 200)
        renamed = f"item {n} renamed"
        status, body = call(conn, "PATCH", f"/api/items/{item_id}", {"name": renamed}, self.token)
        self.check("PATCH", status, 200, body)
        if status == 200:
            self.items[item_id] = renamed
        self.check("LIST", call(conn, "GET", "/api/items?per_page=5", token=self.token)[0], 200)

    def check(self, what: str, status: int, expected: int, body: Any = None) -> None:
        self.statuses[f"{what} {status}"] += 1
        if status != expected:
            self.failures.append(f"{what} {status}: {str(body)[:200]}")


class Watcher:
    """A standard python-socketio client (reconnection on) that records its gaps."""

    def __init__(self, port: int, token: str) -> None:
        self.client = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=1)
        self.url = f"http://127.0.0.1:{port}"
        self.token = token
        self.down_since: float | None = None
        self.gaps: list[float] = []
        self.client.on("connect", self.on_connect)
        self.client.on("disconnect", self.on_disconnect)

    def on_connect(self) -> None:
        if self.down_since is not None:
            self.gaps.append(time.monotonic() - self.down_since)
            self.down_since = None

    def on_disconnect(self, reason: Any = None) -> None:
        self.down_since = time.monotonic()

    def connect(self) -> None:
        # The websocket transport: the one that works across instances (API.md).
        self.client.connect(
            self.url, auth={"token": self.token}, transports=["websocket"], wait_timeout=10
        )


def wait_ready(instance: Instance, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=5)
        try:
            if call(conn, "GET", "/health/ready")[0] == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise AssertionError(f"{instance.port} not ready:\n{instance.log.read_text()[-3000:]}")


def test_restarting_both_instances_one_after_the_other_drops_nothing(rolling):
    clients = [Client(rolling.ports.http) for _ in range(CLIENTS)]
    for client in clients:
        client.setup()
    watchers = [Watcher(rolling.ports.http, clients[i].token) for i in range(SOCKETS)]
    for watcher in watchers:
        watcher.connect()
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        for instance in rolling.instances:
            started = time.monotonic()
            assert instance.terminate() == 0, instance.log.read_text()[-3000:]
            stopped_after = time.monotonic() - started
            instance.start()
            wait_ready(instance)
            print(f"instance {instance.port}: stopped in {stopped_after:.1f} s, back up")
            time.sleep(2)
        deadline = time.monotonic() + BACK_WITHIN + 2
        while any(w.down_since is not None for w in watchers) and time.monotonic() < deadline:
            time.sleep(0.1)
        connected_at_the_end = [w.client.connected for w in watchers]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT + 10)
        for watcher in watchers:
            watcher.client.disconnect()

    statuses = sum((c.statuses for c in clients), Counter())
    print(f"requests through nginx during the restarts: {dict(statuses)}")
    print(f"Socket.IO gaps (s), per client: {[[round(g, 2) for g in w.gaps] for w in watchers]}")
    failures = [f for c in clients for f in c.failures]
    errors = (rolling.nginx.log.parent / "error.log").read_text().splitlines()
    upstream_errors = [line for line in errors if "upstream" in line and "[error]" in line]
    refused = [line for line in upstream_errors if "(111: Connection refused)" in line]
    print(f"nginx: {len(refused)} connections refused (retried), other upstream errors:")
    print(*[line for line in upstream_errors if line not in refused][-20:], sep="\n")
    assert not failures, failures[:20]
    assert statuses["POST 201"] > 100 and statuses["PATCH 200"] > 100

    # No write lost: every created item is in the database with the name last written.
    written = {item_id: name for c in clients for item_id, name in c.items.items()}
    url = normalize_database_url(rolling.database).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        stored = dict(conn.execute("SELECT id, name FROM items").fetchall())
    assert stored == written

    # Every socket was dropped at least once (its instance stopped) and was back within 5 s.
    assert all(w.gaps for w in watchers), [w.gaps for w in watchers]
    assert max(g for w in watchers for g in w.gaps) < BACK_WITHIN
    assert all(connected_at_the_end), connected_at_the_end
