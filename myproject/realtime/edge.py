"""The HTTP side of ``/socket.io/``: the app's rules before Engine.IO, problem JSON after it.

Socket.IO's middleware answers ``/socket.io/`` without Flask, so none of the app's hooks run
there. This WSGI middleware, around it, applies them: ``ALLOWED_HOSTS`` (any other ``Host``:
``400``), the origin rule of the contract (an ``Origin`` must be in ``CORS_ORIGINS``, or be
the API's own origin on a host ``ALLOWED_HOSTS`` lists), no JSONP polling (``j=``: ``400``),
the response headers every answer carries, and problem JSON for every error Engine.IO
answers in plain text (bad session id, transport or upgrade) or raises (a malformed
WebSocket upgrade: one warning line, never a traceback).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from flask import Flask
from werkzeug.exceptions import SecurityError
from werkzeug.sansio.utils import get_host
from werkzeug.wsgi import get_host as environ_host

log = logging.getLogger(__name__)

PREFIX = "/socket.io"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def own_origin(environ: dict[str, Any]) -> str | None:
    """The server's origin as the request names it (after ``ProxyFix``: as the trusted
    proxies forwarded it); a scheme's default port left out, as browsers do."""
    scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST")
    return f"{scheme}://{get_host(scheme, host)}" if host else None


def origin_checker(app: Flask) -> Callable[[str | None, dict[str, Any]], bool]:
    """Engine.IO's ``cors_allowed_origins``: ``CORS_ORIGINS`` (taken literally: ``*`` is no
    wildcard here), and the API's own origin only where ``ALLOWED_HOSTS`` vouches for its
    host (the edge has refused any other host already). No Origin: not a browser, not
    checked here (the token decides)."""
    allowed = frozenset(app.config["CORS_ORIGINS"])
    hosts_listed = bool(app.config.get("TRUSTED_HOSTS"))

    def is_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None or origin in allowed:
            return True
        return hosts_listed and origin == own_origin(environ)

    return is_allowed


class SocketIOEdge:
    """WSGI middleware in front of Socket.IO's (other paths pass straight through)."""

    def __init__(self, wsgi_app: WSGIApp, app: Flask) -> None:
        self.wsgi_app, self.app = wsgi_app, app
        self.origin_allowed = origin_checker(app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            return self.wsgi_app(environ, start_response)
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        headers = self._headers(environ, request_id)
        refusal = self._refusal(environ)
        if refusal is not None:
            return _problem(start_response, 400, refusal, path, headers)
        failed: dict[str, int] = {}

        def start(status: str, response_headers: list[tuple[str, str]], *exc: Any) -> Any:
            code = int(status.split(" ", 1)[0])
            content_type = dict((k.lower(), v) for k, v in response_headers).get("content-type")
            if code >= 400 and "json" not in (content_type or ""):
                failed["status"] = code
                return lambda _data: None
            return start_response(status, [*response_headers, *headers], *exc)

        try:
            body = self.wsgi_app(environ, start)
        except (StopIteration, ConnectionError):
            raise  # a WebSocket that ended: how Engine.IO tells the server to just close
        except Exception as exc:
            log.warning("Socket.IO request failed: %s: %s", type(exc).__name__, str(exc)[:200])
            if _is_upgrade(environ) and "gunicorn.socket" in environ:
                raise StopIteration from None  # the socket may be the WebSocket's by now
            detail = "The request is not a valid Socket.IO request."
            return _problem(start_response, 400, detail, path, headers)
        if "status" not in failed:
            return body
        text = b"".join(body).decode("utf-8", "replace")
        if hasattr(body, "close"):
            body.close()
        detail = text.strip().strip('"')[:200] or HTTPStatus(failed["status"]).description
        return _problem(start_response, failed["status"], detail, path, headers)

    def _refusal(self, environ: dict[str, Any]) -> str | None:
        """Why the app's rules refuse this request before Engine.IO sees it, else None."""
        try:
            environ_host(environ, self.app.config.get("TRUSTED_HOSTS"))
        except SecurityError:
            return "The Host header names a host this service does not answer for."
        if "j" in parse_qs(environ.get("QUERY_STRING", "")):
            return "JSONP polling is not supported; use the websocket or XHR polling transport."
        if _is_upgrade(environ) and not _valid_upgrade(environ):
            return "A malformed WebSocket upgrade (RFC 6455: GET, version 13, a 16-byte key)."
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self.origin_allowed(origin, environ):
            return "The Origin is not allowed."
        return None

    def _headers(self, environ: dict[str, Any], request_id: str) -> list[tuple[str, str]]:
        headers = [("X-Request-ID", request_id), *SECURITY_HEADERS]
        seconds = self.app.config.get("HSTS_SECONDS", 0)
        if seconds and environ.get("wsgi.url_scheme") == "https":
            headers.append(("Strict-Transport-Security", f"max-age={seconds}; includeSubDomains"))
        return headers


def _is_upgrade(environ: dict[str, Any]) -> bool:
    return bool(environ.get("HTTP_UPGRADE"))


def _valid_upgrade(environ: dict[str, Any]) -> bool:
    """What a WebSocket handshake needs (checked here so that the handshake never fails
    half-way, after the server has taken the socket over)."""
    try:
        key = base64.b64decode(environ.get("HTTP_SEC_WEBSOCKET_KEY", ""), validate=True)
    except ValueError:
        return False
    connection = {v.strip().lower() for v in environ.get("HTTP_CONNECTION", "").split(",")}
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        and "upgrade" in connection
        and environ.get("HTTP_SEC_WEBSOCKET_VERSION") == "13"
        and len(key) == 16
    )


def _problem(
    start_response: Callable[..., Any],
    status: int,
    detail: str,
    path: str,
    headers: list[tuple[str, str]],
) -> list[bytes]:
    request_id = headers[0][1]
    body = json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "instance": path,
            "request_id": request_id,
        }
    ).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/problem+json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *headers,
        ],
    )
    return [body]
