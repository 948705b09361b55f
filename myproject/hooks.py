"""HTTP plumbing shared by every route: request id, body checks, response headers, CORS,
proxies and the (absent) cookie session. ``init_app`` wires all of it."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Request, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_jwt_extended import get_jwt
from werkzeug.exceptions import (
    BadRequest,
    RequestEntityTooLarge,
    RequestURITooLarge,
    UnsupportedMediaType,
)
from werkzeug.middleware.proxy_fix import ProxyFix

from myproject.extensions import cors

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Per-request state kept in ``g`` (see ``start_request``).
REQUEST_STATE: tuple[str, ...] = (
    "decoded_tokens",
    "token_claims",
    "caller",
    "caller_session",
    "ratelimit_windows",
)
# An API key's caller (myproject.auth.key_access), and what it sets for Flask-JWT-Extended.
REQUEST_STATE += ("key_caller", "api_key_checked", "_jwt_extended_jwt", "_jwt_extended_jwt_user")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Longer query strings are refused (414); the server lets request lines up to 8 KiB through
# (gunicorn.conf.py, deploy/nginx.conf) so that the refusal is this problem JSON.
MAX_QUERY_STRING = 4096
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
]
CSRF_HEADER = "X-CSRF-TOKEN"
CORS_EXPOSE_HEADERS = [
    "Link",
    "X-Total-Count",
    "X-Total-Count-Lower-Bound",
    "ETag",
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
BROWSER_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class NoCookieSession(SecureCookieSessionInterface):
    """A JSON API with bearer tokens keeps no cookie session: skip opening and saving one on
    every request (``flask.session`` stays usable as an always-empty null session)."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None


def init_app(app: Flask) -> None:
    """Install the hooks. Call before the extensions: the request id then exists before any
    extension's hook can fail, and ``add_response_headers`` runs last (Flask runs
    after-request functions in reverse order of registration)."""
    app.session_interface = NoCookieSession()
    app.before_request(start_request)
    app.before_request(check_query_string)
    app.before_request(check_request_body)
    app.after_request(add_response_headers)


def trust_proxies(app: Flask) -> None:
    """The one ``ProxyFix``, around the whole WSGI stack: call it last in ``create_app``, after
    Socket.IO has wrapped ``wsgi_app`` with its middleware, so that ``/socket.io/`` (its origin
    check) and Flask read the same client address, scheme and host."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


def init_cors(app: Flask) -> None:
    # Cookie mode: a cross-origin SPA sends its cookies (credentials) and the CSRF header.
    cookies = "cookies" in app.config["JWT_TOKEN_LOCATION"]
    cors.init_app(
        app,
        origins=app.config["CORS_ORIGINS"],
        methods=CORS_METHODS,
        allow_headers=[*CORS_ALLOW_HEADERS, CSRF_HEADER] if cookies else CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        supports_credentials=cookies,
        max_age=600,
        always_send=False,
        vary_header=True,
    )


def start_request() -> None:
    """Give the request its id (a sane incoming ``X-Request-ID``, else a new one)."""
    # An app context (and so ``g``) can outlive one request when a caller keeps it pushed;
    # per-request state must never leak into the next request.
    for name in REQUEST_STATE:
        g.pop(name, None)
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def check_query_string() -> None:
    if len(request.query_string) > MAX_QUERY_STRING:
        raise RequestURITooLarge(
            f"The query string is longer than {MAX_QUERY_STRING} bytes; send fewer parameters."
        )


def check_request_body() -> None:
    """Reject a body before any view or extension reads it.

    415 when it is not JSON; 413 when a chunked body reaches MAX_CONTENT_LENGTH (werkzeug
    would silently cut it there); 400 when it does not parse, including JSON nested too
    deeply for the parser (a RecursionError must not become a 500).
    """
    if request.method not in BODY_METHODS:
        return
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not (request.content_length or chunked):
        return
    if not request.is_json:
        raise UnsupportedMediaType("Send the request body as application/json.")
    data = request.get_data(cache=True)
    if chunked and len(data) >= (current_app.config["MAX_CONTENT_LENGTH"] or len(data) + 1):
        raise RequestEntityTooLarge()
    try:
        request.get_json()  # parsed once: Flask keeps it for the view (parsing.InputParser)
    except (BadRequest, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None


def add_response_headers(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The server sends Date; werkzeug's make_conditional (ETag answers) would add a second.
    response.headers.pop("Date", None)
    if response.status_code in (204, 304) or (
        request.method == "OPTIONS" and not response.content_length
    ):
        response.headers.pop("Content-Type", None)
    if current_app.config["CORS_ORIGINS"]:
        # The CORS headers depend on Origin (flask-cors omits Vary for a single origin).
        response.vary.add("Origin")
    if response.status_code not in (429, 503):
        # Flask-Limiter adds Retry-After to every response; it only means something on these.
        response.headers.pop("Retry-After", None)
    # Swagger UI needs its own scripts and an inline bootstrap; everything else needs nothing.
    docs = request.path.startswith("/api/docs")
    response.headers["Content-Security-Policy"] = DOCS_CSP if docs else API_CSP
    add_browser_headers(response)
    return response


def add_browser_headers(response: Response) -> None:
    """What a browser must not do with any answer (frame it, leak its URL, use a device);
    HSTS on HTTPS answers (``request.is_secure``: as a trusted proxy states it, ``ProxyFix``);
    and ``no-store`` on every answer to a request that presented a token (its body depends
    on who is asking)."""
    response.headers.update(BROWSER_HEADERS)
    seconds = current_app.config["HSTS_SECONDS"]
    if seconds and request.is_secure:
        response.headers["Strict-Transport-Security"] = f"max-age={seconds}; includeSubDomains"
    try:
        token = get_jwt()
    except RuntimeError:  # no view verified a token
        token = {}
    if token:
        response.headers["Cache-Control"] = "no-store"
