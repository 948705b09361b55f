"""A gunicorn worker killed in the middle of an idempotent POST does not wedge the key
(API.md, Idempotent retries): live gunicorn on loopback, PostgreSQL only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support import answers_200, free_port, wait_for

pytestmark = pytest.mark.faults  # make e2e-jobs

# REQUEST_TIMEOUT for the server under test, seconds: long enough that the "early" retry lands
# inside it even when a new worker takes several seconds to boot on a busy machine.
LEASE = 8


class Answer:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status_code, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: Any = None, headers: Any = None, timeout: float = 10) -> Any:
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data=data, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


@pytest.fixture()
def server(
    app: Any, database_url: str, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (row locks): set TEST_DATABASE_URL")
    port = free_port()
    config = tmp_path / "gunicorn_test.conf.py"
    config.write_text("")  # not the project's gunicorn.conf.py: plain settings below
    env = {
        **os.environ,
        "FLASK_CONFIG": "testing",
        "TEST_DATABASE_URL": database_url,
        "REQUEST_TIMEOUT": str(LEASE),
    }
    env.pop("TEST_REDIS_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(config),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "myproject:create_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers_200(f"{base}/health"), 20, "gunicorn to answer")
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def test_a_killed_worker_does_not_wedge_the_idempotency_key(server, database_url):
    base, process = server
    name = f"u{uuid.uuid4().hex[:10]}"
    user = http(
        "POST",
        f"{base}/api/users",
        {"username": name, "email": f"{name}@example.com", "password": "long-enough-1"},
    ).json()
    token = http(
        "POST", f"{base}/auth/token", {"username": name, "password": "long-enough-1"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "survives-a-kill"}
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as locker:
        # The item's foreign key check waits on this lock: the request hangs mid-write.
        locker.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user["id"],))
        hung = threading.Thread(
            target=lambda: _post_ignoring_errors(f"{base}/api/items", headers), daemon=True
        )
        hung.start()
        wait_for(lambda: _reserved(dsn, "survives-a-kill"), 10, "the key's reservation")
        workers = _worker_pids(process.pid)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        locker.rollback()
        reserved_at = time.monotonic()
    wait_for(lambda: set(_worker_pids(process.pid)) - set(workers), 20, "new workers")

    early = http("POST", f"{base}/api/items", {"name": "Lamp"}, headers)
    assert time.monotonic() - reserved_at < LEASE, "the machine is too slow for this lease"
    time.sleep(max(0.0, LEASE + 0.5 - (time.monotonic() - reserved_at)))
    retry = http("POST", f"{base}/api/items", {"name": "Lamp"}, headers)
    again = http("POST", f"{base}/api/items", {"name": "Lamp"}, headers)
    items = http("GET", f"{base}/api/users/{user['id']}/items")

    assert early.status_code == 409
    assert retry.status_code == 201
    assert again.status_code == 201 and again.json() == retry.json()
    assert items.headers["X-Total-Count"] == "1"


def _post_ignoring_errors(url: str, headers: dict[str, str]) -> None:
    try:
        http("POST", url, {"name": "Lamp"}, headers, timeout=15)
    except OSError:
        pass  # the worker dies under it


def _reserved(dsn: str, key: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT 1 FROM idempotency_keys WHERE key = %s", (key,)).fetchone()
        return row is not None
