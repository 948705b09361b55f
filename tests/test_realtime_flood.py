"""Four signed-in sockets flood ``join``/``leave`` for 10 s while a prober reads an item, on
a real `gunicorn` (gunicorn.conf.py, gevent, one worker, the production config): the HTTP API
keeps answering (p99 under 1 s, no 5xx, normal within 2 s after), and the log grows by at
most a few lines per socket, with no traceback. Each flooder reconnects as soon as it is
dropped, as an attacker would.

Marker ``flood`` (about 20 s): ``make flood-test``, run by ``.ci/run``. PostgreSQL and Redis
when ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` are set, else SQLite and per-process counts.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import sqlalchemy as sa
import urllib3
import websocket
from alembic.script import ScriptDirectory

from myproject.config import normalize_database_url
from myproject.extensions import db as _db
from tests.support import TempDatabase, free_port
from tests.test_gunicorn import ROOT, Server, production_settings, running, server_env

pytestmark = pytest.mark.flood

FLOOD_SECONDS = 10.0
SOCKETS = 4
PASSWORD = "flood-pass-1"


def _database(stack: ExitStack, tmp: Any) -> str:
    base = os.environ.get("TEST_DATABASE_URL")
    url = (
        stack.enter_context(TempDatabase(normalize_database_url(base)))
        if base
        else f"sqlite:///{tmp}/flood.sqlite"
    )
    engine = sa.create_engine(normalize_database_url(url))
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
    with engine.begin() as conn:
        _db.metadata.create_all(conn)
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:head)"), {"head": head})
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with ExitStack() as stack:
        tmp = tmp_path_factory.mktemp("flood")
        env = server_env(
            **production_settings(_database(stack, tmp)),
            REDIS_URL=os.environ.get("TEST_REDIS_URL"),
            RATELIMIT_ENABLED="false",
            GUNICORN_BIND=f"127.0.0.1:{free_port()}",
        )
        yield stack.enter_context(running(tmp, env))


def _sign_up(http: urllib3.PoolManager, url: str) -> tuple[int, str, int]:
    """(user id, access token, id of one of their items)."""
    name = f"flood_{uuid.uuid4().hex[:8]}"
    user = http.request(
        "POST",
        f"{url}/api/users",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
    ).json()
    token = http.request(
        "POST", f"{url}/auth/token", json={"username": name, "password": PASSWORD}
    ).json()["access_token"]
    item = http.request(
        "POST",
        f"{url}/api/items",
        json={"name": "Probe"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    return user["id"], token, item["id"]


def _flood(url: str, token: str, room: str, until: float, opened: Any) -> None:
    """One flooder (a process of its own: threads would starve the prober of the GIL),
    speaking Engine.IO/Socket.IO over a raw WebSocket: it sends as fast as the connection
    takes packets and reconnects the moment it is dropped."""
    target = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    join = json.dumps(["join", {"room": room}])
    leave = json.dumps(["leave", {"room": room}])
    while time.monotonic() < until:
        try:
            ws = websocket.create_connection(target, timeout=5, suppress_origin=True)
            ws.recv()  # Engine.IO open
            ws.send("40" + json.dumps({"token": token}))
            if not ws.recv().startswith("40"):
                ws.close()
                time.sleep(0.05)
                continue
        except (OSError, websocket.WebSocketException):
            time.sleep(0.05)
            continue
        with opened.get_lock():
            opened.value += 1
        try:
            while time.monotonic() < until:
                ws.send("42" + join)
                ws.send("42" + leave)
        except (OSError, websocket.WebSocketException):
            pass  # dropped by the server
        finally:
            ws.close()


def _probe(url: str, until: float, seen: list[tuple[float, float, int]]) -> None:
    http = urllib3.PoolManager(retries=False, timeout=5)
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            status = http.request("GET", url).status
        except urllib3.exceptions.HTTPError:
            status = 599
        seen.append((start, time.monotonic() - start, status))
        time.sleep(0.02)


def test_a_flood_of_events_leaves_the_api_answering(server):
    url = f"http://127.0.0.1:{server.port}"
    http = urllib3.PoolManager(retries=False, timeout=10)
    user_id, token, item_id = _sign_up(http, url)
    log_before = len(server.output().splitlines())

    start = time.monotonic()
    flood_end = start + FLOOD_SECONDS
    seen: list[tuple[float, float, int]] = []
    opened = multiprocessing.get_context("fork").Value("i", 0)
    flooders = [
        multiprocessing.get_context("fork").Process(
            target=_flood, args=(url, token, f"user:{user_id}", flood_end, opened)
        )
        for _ in range(SOCKETS)
    ]
    for flooder in flooders:
        flooder.start()
    try:
        _probe(f"{url}/api/items/{item_id}", flood_end + 3, seen)
    finally:
        for flooder in flooders:
            flooder.join(timeout=10)
            if flooder.is_alive():
                flooder.kill()

    during = sorted(elapsed for at, elapsed, _ in seen if at < flood_end)
    p99 = during[int(len(during) * 0.99) - 1]
    after = [(elapsed, status) for at, elapsed, status in seen if at >= flood_end + 2]
    statuses = {status for _, _, status in seen}
    log = server.output().splitlines()[log_before:]
    probes = sum(1 for line in log if f"/api/items/{item_id}" in line)
    print(
        f"\n{len(during)} reads during the flood, p99 {p99 * 1000:.0f} ms; {opened.value} sockets"
    )

    assert len(during) > 10
    assert p99 < 1.0, f"p99 {p99:.3f} s"
    assert statuses == {200}, statuses
    assert after and all(elapsed < 0.5 and status == 200 for elapsed, status in after)
    assert not any("Traceback" in line for line in log)
    # The access log's line per probe, then at most a few lines per flooding socket.
    assert len(log) - probes <= 3 * opened.value + 10, "\n".join(log[-40:])
