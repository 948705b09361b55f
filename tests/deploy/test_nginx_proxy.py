"""deploy/nginx.conf against stand-in upstreams on 127.0.0.1:APP_PORT: what reaches the app, and
nginx's own errors (API.md "General rules": 413, 414, 502, 504 as problem JSON)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.stack import Ports, render_config, self_signed
from tests.deploy.support import (
    APP_PORT,
    NGINX_PORT,
    Server,
    SilentServer,
    assert_proxy_problem,
    nginx_prefix,
    port_is_free,
    raw,
    request,
    start_nginx,
)
from tests.support import free_port

pytestmark = pytest.mark.nginx

MIB = 1024 * 1024


class EchoHandler(BaseHTTPRequestHandler):
    """Answers with what it received: method, path, headers, body length."""

    protocol_version = "HTTP/1.1"

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body_length": len(body),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        # No keepalive: nginx must not keep a connection to this stand-in once it is gone.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _echo

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture()
def echo_upstream(nginx: Server) -> Iterator[None]:
    assert port_is_free(APP_PORT), f"port {APP_PORT} must be free for the stand-in upstream"
    server = ThreadingHTTPServer(("127.0.0.1", APP_PORT), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture()
def no_upstream(nginx: Server) -> None:
    """gunicorn is down: nothing listens on the upstream port."""
    assert port_is_free(APP_PORT), f"port {APP_PORT} must be free: gunicorn is down here"


def received(answer: Any) -> dict[str, Any]:
    """The echo's report, headers as a dict (each appears once)."""
    assert answer.status == 200, answer.body[:300]
    report: dict[str, Any] = answer.json()
    names = [name for name, _ in report["headers"]]
    assert len(names) == len(set(names)), names
    report["headers"] = dict(report["headers"])
    return report


def test_forged_forwarded_headers_are_replaced_by_what_nginx_saw(echo_upstream):
    forged = {
        "Host": "api.example.com:8080",
        "X-Forwarded-For": "203.0.113.7, 198.51.100.1",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Port": "666",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Prefix": "/evil",
    }
    headers = received(request("GET", "/api/items/1", headers=forged))["headers"]

    # TRUSTED_PROXIES=1: the app believes exactly one hop, so the chain is nginx's alone.
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == "api.example.com"
    assert headers["x-forwarded-port"] == str(NGINX_PORT)  # the port nginx listens on
    assert headers["x-forwarded-proto"] == "http"
    assert "x-forwarded-prefix" not in headers
    assert headers["host"] == "api.example.com:8080"


@pytest.mark.parametrize(
    ("incoming", "sane"),
    [("checkout-42.retry_1", True), ("bad id with spaces", False), ("x" * 129, False)],
)
def test_request_id_is_passed_on_when_sane_else_replaced(echo_upstream, incoming, sane):
    headers = received(request("GET", "/", headers={"X-Request-ID": incoming}))["headers"]

    if sane:
        assert headers["x-request-id"] == incoming
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


def test_a_chunked_body_reaches_the_app_whole_with_its_length(echo_upstream):
    chunks = (b'{"name": "' + b"x" * 500 + b'"}' for _ in range(3))
    report = received(request("POST", "/api/items", body=chunks, headers={"Content-Type": "x"}))

    # proxy_request_buffering: nginx read the whole body before it called the app.
    assert "transfer-encoding" not in report["headers"]
    assert report["headers"]["content-length"] == str(3 * 512)
    assert report["body_length"] == 3 * 512


def test_websocket_upgrade_headers_reach_socket_io(echo_upstream):
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    headers = received(request("GET", "/socket.io/?EIO=4&transport=websocket", headers=upgrade))[
        "headers"
    ]

    assert headers["upgrade"] == "websocket"
    assert headers["connection"] == "upgrade"


def test_plain_requests_reuse_the_upstream_connection(echo_upstream):
    headers = received(request("GET", "/api/items", headers={"Connection": "close"}))["headers"]

    # An empty Connection header (upstream keepalive), whatever the client asked for.
    assert "connection" not in headers


def test_a_body_over_1_mib_gets_413_problem_json_and_never_reaches_the_app(no_upstream):
    head = (
        b"POST /api/items HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (2 * MIB)
    )
    answer = raw(head + b"x" * (2 * MIB))

    # 413 and not 502: nginx answered from the headers without calling the (absent) app.
    body = assert_proxy_problem(answer, 413)
    assert body["instance"] == "/api/items"


def test_a_chunked_body_over_1_mib_gets_413_problem_json(no_upstream):
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(32)) + b"0\r\n\r\n"
    head = b"POST /api/items HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"

    assert_proxy_problem(raw(head + chunks), 413)


def test_a_request_line_over_8_kib_gets_414_problem_json(no_upstream):
    line = b"GET /api/items?q=" + b"a" * 8200 + b" HTTP/1.1"
    answer = raw(line + b"\r\nHost: localhost\r\n\r\n")

    body = assert_proxy_problem(answer, 414)
    assert body["instance"] == ""  # nginx stopped reading before it had a URI


def test_the_longest_request_line_gunicorn_takes_passes_nginx(echo_upstream):
    target = "/api/items?q=" + "a" * (8190 - len("GET /api/items?q= HTTP/1.1"))
    assert len(f"GET {target} HTTP/1.1") == 8190  # gunicorn's limit_request_line

    assert received(request("GET", target))["path"] == target
    assert_proxy_problem(request("GET", target + "a"), 414)


def test_a_header_line_over_8_kib_gets_431_problem_json(no_upstream):
    answer = request("GET", "/api/items", headers={"X-Big": "a" * 9000})

    assert_proxy_problem(answer, 431)


def test_a_malformed_request_gets_400_problem_json(no_upstream):
    assert_proxy_problem(raw(b"NOT HTTP AT ALL\r\n\r\n"), 400)


def test_gunicorn_down_gets_502_problem_json(no_upstream):
    answer = request("GET", "/api/items/7?page=2", headers={"X-Request-ID": "trace-502"})

    body = assert_proxy_problem(answer, 502)
    assert body["instance"] == "/api/items/7"
    assert body["request_id"] == "trace-502"
    assert answer.headers["Retry-After"] == "5"


@pytest.mark.parametrize("path", ['/a"b', "/a\\b", "/%22/x", "/caf\xc3\xa9"])
def test_any_request_uri_still_makes_valid_problem_json(no_upstream, path):
    answer = raw(b"GET " + path.encode("latin-1") + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")

    body = assert_proxy_problem(answer, 502)  # the body parsed as JSON
    assert body["instance"] in {path, ""}


def test_the_internal_error_locations_are_not_reachable_from_outside(no_upstream):
    answer = request("GET", "/.nginx-problem/502")

    assert_proxy_problem(answer, 404)


def test_an_upstream_that_does_not_answer_in_time_gets_504_problem_json(nginx_bin: str):
    # A copy of the shipped file, on free ports and with a 2 s read timeout instead of 35 s,
    # so that the test does not wait 35 s; everything else is the shipped configuration.
    upstream_port, port = free_port(), free_port()
    with nginx_prefix() as prefix:
        answer, elapsed = _request_through_copy(nginx_bin, prefix, port, upstream_port)

    body = assert_proxy_problem(answer, 504)
    assert body["instance"] == "/api/items/3"
    assert 1.5 < elapsed < 6


def _request_through_copy(nginx_bin: str, prefix: Path, port: int, upstream_port: int) -> Any:
    cert, key = self_signed(prefix)
    ports = Ports(http=port, apps=[upstream_port])
    config = render_config(
        prefix, ports, cert, key, {"proxy_read_timeout 35s;": "proxy_read_timeout 2s;"}
    )
    silent = SilentServer(upstream_port)
    try:
        server = start_nginx(nginx_bin, prefix, config, port)
        try:
            started = time.monotonic()
            answer = request("GET", "/api/items/3", port=port)
            return answer, time.monotonic() - started
        finally:
            server.stop()
    finally:
        silent.close()


def test_a_client_that_does_not_finish_its_headers_is_dropped_after_10_seconds(nginx: Server):
    with socket.create_connection(("127.0.0.1", nginx.port), timeout=20) as sock:
        sock.sendall(b"GET /api/items HTTP/1.1\r\nHost: loc")  # ...and nothing more
        started = time.monotonic()
        try:
            # Closed without an answer (client_header_timeout), with a reset
            # (reset_timedout_connection: no socket lingers in FIN_WAIT for it).
            assert sock.recv(1024) == b""
        except ConnectionResetError:
            pass
        assert 9 < time.monotonic() - started < 13
