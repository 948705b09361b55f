"""Hostile requests at the shipped deploy/nginx.conf (issue 21): every refusal, whichever
layer makes it, is problem JSON. nginx answers what it refuses itself (405, 501, 505, a bad
header name, ...); a header value with a DEL byte and more than 100 headers pass nginx and
are refused by gunicorn, in problem JSON too (myproject/gunicorn_worker.py); the Socket.IO
endpoint answers its own refusals (myproject/realtime/edge.py)."""

from __future__ import annotations

import pytest

from tests.deploy.support import assert_proxy_problem, from_nginx, raw

pytestmark = pytest.mark.nginx


def request_bytes(*headers: str, line: str = "GET /health HTTP/1.1") -> bytes:
    lines = [line, "Host: localhost", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


@pytest.mark.parametrize(
    ("data", "status"),
    [
        pytest.param(request_bytes(line="TRACE / HTTP/1.1"), 405, id="trace"),
        pytest.param(
            request_bytes("Transfer-Encoding: gzip", line="POST /api/items HTTP/1.1"),
            501,
            id="unknown-transfer-coding",
        ),
        pytest.param(request_bytes(line="GET /health HTTP/2.0"), 505, id="http-2-in-clear"),
        pytest.param(request_bytes("Bad\x01Name: x"), 400, id="control-byte-in-a-name"),
    ],
)
def test_nginx_answers_its_own_refusals_in_problem_json(stack, data, status):
    answer = raw(data)

    assert_proxy_problem(answer, status)
    assert from_nginx(answer)
    assert answer.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        pytest.param(request_bytes("X-Note: a\x7fb"), 400, id="del-byte-in-a-value"),
        pytest.param(request_bytes(*(f"X-H{i}: {i}" for i in range(120))), 431, id="120-headers"),
    ],
)
def test_what_passes_nginx_is_refused_by_gunicorn_in_problem_json(stack, data, status):
    assert_proxy_problem(raw(data), status)


@pytest.mark.parametrize(
    "target",
    [
        "/socket.io/?EIO=4&transport=polling&sid=nope",
        "/socket.io/?EIO=4&transport=polling&j=0",
        "/socket.io/?EIO=4&transport=flash",
    ],
)
def test_socket_io_refusals_pass_through_as_problem_json(stack, target):
    assert_proxy_problem(raw(request_bytes(line=f"GET {target} HTTP/1.1")), 400)


def test_a_malformed_websocket_upgrade_is_problem_json(stack):
    data = request_bytes(
        "Upgrade: websocket",
        "Connection: Upgrade",
        line="GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
    )

    assert_proxy_problem(raw(data), 400)
