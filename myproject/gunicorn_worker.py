"""gunicorn's own refusals as problem JSON: the worker classes ``gunicorn.conf.py`` runs.

gunicorn answers a request it cannot parse (bad request line or header, a request line over
``limit_request_line``: ``414``, too many or too large headers: ``431``, an unknown transfer
coding: ``501``) itself, before the app sees it, with a small HTML page. These workers are
gunicorn's own gevent and gthread workers whose ``handle_error`` writes the same answer as RFC
9457 problem JSON, with the app's response headers: gunicorn still decides the status and
logs its one warning line (no traceback for a client's error).

Loaded by path from ``gunicorn.conf.py`` (the master never imports the app), so this module
imports nothing of ``myproject``.
"""

from __future__ import annotations

import json
import uuid
from http import HTTPStatus
from typing import Any

from gunicorn.workers.ggevent import GeventWorker as _GeventWorker
from gunicorn.workers.gthread import ThreadWorker as _ThreadWorker

PROBLEM_JSON = "application/problem+json"
# The app's headers on every answer (myproject/hooks.py), minus what needs a request.
HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
)
DETAILS = {
    400: "The request could not be parsed: a malformed request line or header.",
    403: "The request was refused.",
    414: "The request line is longer than 8 KiB.",
    417: "The Expect header is not supported.",
    431: "Too many request headers (more than 100), or one longer than 8 KiB.",
    500: "The server failed to handle the request; quote the request_id when reporting it.",
    501: "The request uses a transfer coding the server does not support.",
}


def problem_response(status: int, path: str = "") -> bytes:
    """A complete HTTP/1.1 answer (status line, headers, problem JSON body); the connection
    is closed after it, as gunicorn closes it after any refusal."""
    request_id = uuid.uuid4().hex
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = json.dumps(
        {
            "type": "about:blank",
            "title": phrase,
            "status": status,
            "detail": DETAILS.get(status, phrase),
            "instance": path,
            "request_id": request_id,
        }
    ).encode()
    headers = [
        ("Connection", "close"),
        ("Content-Type", PROBLEM_JSON),
        ("Content-Length", str(len(body))),
        ("X-Request-ID", request_id),
        *HEADERS,
    ]
    head = f"HTTP/1.1 {status} {phrase}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


class _ProblemSocket:
    """The client socket as ``handle_error`` sees it: the error page gunicorn writes is
    replaced by problem JSON with the same status; everything else goes to the socket."""

    def __init__(self, sock: Any, path: str) -> None:
        self._sock, self._path = sock, path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        status_line = data.split(b"\r\n", 1)[0].split()
        if len(status_line) >= 2 and status_line[0] == b"HTTP/1.1" and status_line[1].isdigit():
            data = problem_response(int(status_line[1]), self._path)
        self._sock.sendall(data)

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)


def _path_of(req: Any) -> str:
    path = getattr(req, "path", None)
    return path if isinstance(path, str) else ""


class ProblemErrors:
    """Mixin for a gunicorn worker: ``handle_error`` answers problem JSON."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        wrapped = _ProblemSocket(client, _path_of(req)) if client is not None else client
        super().handle_error(req, wrapped, addr, exc)  # type: ignore[misc]


class GeventWorker(ProblemErrors, _GeventWorker):
    """gunicorn's gevent worker (``-k gevent``), refusing in problem JSON."""


class ThreadWorker(ProblemErrors, _ThreadWorker):
    """gunicorn's gthread worker (``-k gthread``), refusing in problem JSON."""


WORKERS: dict[str, type] = {
    "gevent": GeventWorker,
    "gunicorn.workers.ggevent.GeventWorker": GeventWorker,
    "gthread": ThreadWorker,
    "gunicorn.workers.gthread.ThreadWorker": ThreadWorker,
}


def worker_class(name: str) -> type | str:
    """The problem-JSON worker for gunicorn's ``name`` (``gevent``, ``gthread``); any other
    name is handed to gunicorn unchanged."""
    return WORKERS.get(name, name)
