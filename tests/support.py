"""Helpers shared by the tests (not fixtures)."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import jwt
import psycopg
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from myproject.models import Item

PASSWORD = "correct-horse-42"
T = TypeVar("T")

# API.md "Errors": a problem body holds only these keys (plus ``errors`` on a 422).
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}
# An X-Request-ID the API echoes, and the shape of the ones it generates.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+00:00$")

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: an unavailable Redis
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}

NEW_ITEM = {"name": "Lamp", "description": "A desk lamp", "category": "lighting"}
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def assert_problem(response: Any, status: int, instance: str | None = None) -> dict[str, Any]:
    """The status first, then the problem-JSON contract of API.md "Errors"; the body.

    A problem body holds only type, title, status, detail, instance, request_id, and for 422
    errors (a 409 names its field in detail); ``instance`` is checked when given.
    """
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert set(body) == PROBLEM_KEYS | ({"errors"} if status == 422 else set())
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    if instance is not None:
        assert body["instance"] == instance
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def post_login(client: FlaskClient, username: Any, password: Any = PASSWORD) -> Any:
    return client.post("/auth/token", json={"username": username, "password": password})


def refresh(client: FlaskClient, refresh_token: str) -> Any:
    return client.post("/auth/token/refresh", headers=bearer(refresh_token))


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking its signature."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def item_count(session: Any) -> int:
    session.expire_all()
    count: int = session.scalar(select(func.count()).select_from(Item))
    return count


def snapshot(session: Any, item_id: int) -> dict[str, Any] | None:
    """The item as the database holds it now, not the session's cached copy."""
    session.expire_all()
    found = session.get(Item, item_id)
    return None if found is None else found.to_dict()


def write(client: Any, method: str, item_id: int | str, headers: dict[str, str], **kw: Any) -> Any:
    """PUT/PATCH (with a valid body unless one is given) or DELETE an item."""
    if method != "DELETE":
        kw.setdefault("json", {"name": "Renamed"})
    return client.open(f"/api/items/{item_id}", method=method, headers=headers, **kw)


class AuthActions:
    """Log in through the API and build Authorization headers (flaskr's AuthActions)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = post_login(self.client, username, password)
        assert response.status_code == 200, response.get_json()
        tokens: dict[str, Any] = response.get_json()
        return tokens

    def headers(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        return bearer(self.login(username, password)["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TempDatabase:
    """A PostgreSQL database created on enter and dropped on exit, next to ``base_url``'s."""

    def __init__(self, base_url: str) -> None:
        self.base = make_url(base_url)
        self.name = f"myproject_test_{uuid.uuid4().hex[:10]}"

    def _admin(self) -> psycopg.Connection[Any]:
        url = self.base.set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def __enter__(self) -> str:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return self.base.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class TcpProxy:
    """A loopback TCP forwarder that a test can cut and restore: a Redis outage on demand."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1", redis_db: int = 0) -> None:
        self.target = (target_host, target_port)
        self.redis_db = redis_db
        self.port = 0
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.redis_db}"

    def start(self) -> TcpProxy:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                # shutdown() wakes the thread blocked in accept(); close() alone would not.
                with contextlib.suppress(OSError):
                    self._server.shutdown(socket.SHUT_RDWR)
                self._server.close()
                self._server = None
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=2)
            with self._lock:
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    condition: Callable[[], T],
    timeout: float,
    what: str | Callable[[], str] = "the condition",
    interval: float = 0.05,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    Raises AssertionError naming ``what`` after ``timeout`` seconds (``what`` may be a callable,
    for text known only then, such as a server's log). An exception from ``condition``, such as
    a failed assertion that the server is still running, ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {detail}")
        time.sleep(interval)


def answers_200(url: str, timeout: float = 2) -> bool:
    """Whether a GET of ``url`` answers 200 now (False while nothing listens)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False
