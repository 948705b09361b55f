"""What gunicorn refuses by itself, before the app sees the request, answered as problem JSON
(myproject/gunicorn_worker.py), over raw sockets to a real `gunicorn` with gunicorn.conf.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.support import free_port
from tests.test_gunicorn import Server, migrated_database, production_settings, running, server_env

__all__ = ["migrated_database"]  # a fixture, used by name


@pytest.fixture(scope="module", params=["gevent", "gthread"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, migrated_database: str
) -> Iterator[Server]:
    env = server_env(
        **production_settings(migrated_database),
        GUNICORN_WORKER_CLASS=request.param,
        GUNICORN_BIND=f"127.0.0.1:{free_port()}",
    )
    with running(tmp_path_factory.mktemp("refusals"), env) as running_server:
        yield running_server


def exchange(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def request(*headers: str, target: str = "/api/items", line: str | None = None) -> bytes:
    first = line if line is not None else f"GET {target} HTTP/1.1"
    return "\r\n".join([first, "Host: localhost", *headers, "", ""]).encode("latin-1")


@pytest.mark.parametrize(
    ("data", "status"),
    [
        pytest.param(request(line="GARBAGE"), 400, id="bad-request-line"),
        pytest.param(request(line="GET /api/items HTTP/9.9"), 400, id="bad-version"),
        pytest.param(request("X-Note: a\x7fb"), 400, id="del-byte-in-a-header-value"),
        pytest.param(request("Bad Name: x"), 400, id="space-in-a-header-name"),
        pytest.param(
            request(target="/api/items?q=" + "a" * 9000), 414, id="request-line-over-8-KiB"
        ),
        pytest.param(request(*(f"X-H{i}: {i}" for i in range(101))), 431, id="101-headers"),
        pytest.param(request("X-Big: " + "a" * 9000), 431, id="header-over-8-KiB"),
    ],
)
def test_gunicorns_own_refusals_are_problem_json(server, data, status):
    answer_status, headers, body = exchange(server.port, data)

    assert answer_status == status, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert set(problem) == {"type", "title", "status", "detail", "instance", "request_id"}
    assert problem["status"] == status and problem["request_id"] == headers["x-request-id"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
    assert "Traceback" not in server.output()


def test_a_query_string_over_4_KiB_is_the_apps_414(server):
    status, headers, body = exchange(
        server.port, request("Connection: close", target="/api/items?q=" + "a" * 5000)
    )

    assert status == 414
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["instance"] == "/api/items"
