"""Helpers for the nginx tests: processes stopped by PID, raw HTTP over loopback."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import PASSWORD, PROBLEM_KEYS, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
SHIPPED_NGINX_PORT = 8080  # what the shipped file listens on...
SHIPPED_APP_PORT = 8000  # ...and proxies to
UNPRIVILEGED = 65534  # nobody / nogroup on Debian


def run_ports() -> tuple[int, int]:
    """Two distinct free loopback ports: nginx's and the app's for this run (never the shipped
    8080 and 8000, which anything else on the machine may hold)."""
    while True:
        nginx, app = free_port(), free_port()
        if nginx != app:
            return nginx, app


NGINX_PORT, APP_PORT = run_ports()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Server:
    """A process a test started, with the file its diagnostics go to."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 10
) -> None:
    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        return False

    wait_for(listening, timeout, lambda: f"a listener on {port}:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def nginx_prefix() -> Iterator[Path]:
    """A fresh PREFIX with ``logs/`` for ``nginx -p``, removed afterwards.

    nginx runs unprivileged, as the shipped file is meant to: as root, the tests run it as
    ``nobody``, who owns the prefix (a pytest tmp_path is private to root).
    """
    prefix = Path(tempfile.mkdtemp(prefix="myproject-nginx-"))
    try:
        (prefix / "logs").mkdir()
        if os.geteuid() == 0:
            for path in (prefix, prefix / "logs"):
                os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
        yield prefix
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def readable_by_others(path: Path) -> bool:
    """True when a user other than the owner can reach and read ``path``."""
    resolved = path.resolve()
    folders_open = all(p.stat().st_mode & stat.S_IXOTH for p in resolved.parents)
    return folders_open and bool(resolved.stat().st_mode & stat.S_IROTH)


def start_nginx(binary: str, prefix: Path, config: Path, port: int) -> Server:
    """``nginx -p PREFIX -c CONFIG`` in the foreground (the config says ``daemon off``)."""
    log = prefix / "logs" / "error.log"
    as_nobody: dict[str, Any] = (
        {"user": UNPRIVILEGED, "group": UNPRIVILEGED, "extra_groups": []}
        if os.geteuid() == 0
        else {}
    )
    inside_prefix = config.resolve().is_relative_to(prefix.resolve())  # nobody's already
    if as_nobody and not inside_prefix and not readable_by_others(config):
        # A checkout in a private folder (mktemp -d is 0700): nobody cannot open the file
        # there, so nginx gets a byte-for-byte copy inside the prefix it owns.
        copy = prefix / config.name
        shutil.copyfile(config, copy)
        os.chown(copy, UNPRIVILEGED, UNPRIVILEGED)
        config = copy
    with (prefix / "logs" / "stderr.log").open("wb") as out:
        process = subprocess.Popen(
            [binary, "-p", f"{prefix}/", "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            **as_nobody,
        )
    server = Server(process, port, prefix / "logs" / "stderr.log")
    try:
        wait_for_port(port, process, server.log)
    except BaseException:
        server.stop()
        raise
    assert log.exists()  # error_log went to PREFIX/logs, nothing outside the prefix
    return server


def on_run_ports(text: str) -> str:
    """The shipped configuration's two ports replaced by this run's, nothing else."""
    for old, new in (
        (f"listen {SHIPPED_NGINX_PORT} default_server;", f"listen {NGINX_PORT} default_server;"),
        (f"server 127.0.0.1:{SHIPPED_APP_PORT};", f"server 127.0.0.1:{APP_PORT};"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def config_copy(prefix: Path, **replace: str) -> Path:
    """deploy/nginx.conf on this run's ports (NGINX_PORT, APP_PORT), with some more text
    replaced (each ``old`` must occur): the run's configuration, or a test's variant."""
    text = on_run_ports(NGINX_CONF.read_text())
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = prefix / "nginx.conf"
    path.write_text(text)
    path.chmod(0o644)
    return path


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    will_close: bool = field(default=False)

    @property
    def mimetype(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    port: int = NGINX_PORT,
    timeout: float = 10,
    conn: http.client.HTTPConnection | None = None,
) -> Answer:
    """One request (on ``conn`` when given, kept open; else on a new connection)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read(), response.will_close)
    finally:
        if own:
            conn.close()


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


def sign_in() -> str:
    """A new user's access token, registered and signed in through nginx."""
    username = register().json()["username"]
    answer = post_json("/auth/token", {"username": username, "password": PASSWORD})
    assert answer.status == 200, answer.body[:300]
    token: str = answer.json()["access_token"]
    return token


def raw(data: bytes, port: int = NGINX_PORT, timeout: float = 10) -> Answer:
    """Send bytes as they are (request lines http.client refuses to build); parse the answer.

    The peer may answer and close before it has read everything (a 413): a send that
    fails then is expected, and the answer is read all the same.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        response = http.client.HTTPResponse(sock, method="GET")
        response.begin()
        return Answer(response.status, response.headers, response.read(), response.will_close)
    finally:
        sock.close()


def assert_proxy_problem(answer: Answer, status: int) -> dict[str, Any]:
    """Problem JSON as API.md "Errors" has it, plus the headers every answer carries."""
    assert answer.status == status, answer.body[:300]
    assert answer.mimetype == "application/problem+json"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    body: dict[str, Any] = answer.json()
    assert set(body) == PROBLEM_KEYS
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["request_id"] == answer.headers["X-Request-ID"]
    return body


def from_nginx(answer: Answer) -> bool:
    """nginx's own answers carry no Content-Security-Policy; every answer of the app does."""
    return "Content-Security-Policy" not in answer.headers


class SilentServer:
    """Accepts connections on loopback and never answers: an upstream that hangs."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(timeout=5)
        for conn in self.conns:
            conn.close()
