"""Who a request counts against, and how much it may do, without touching the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_jwt_extended
from flask import current_app, g, has_request_context, request
from flask_jwt_extended import decode_token, get_current_user, verify_jwt_in_request


class JWTManager(flask_jwt_extended.JWTManager):
    """Flask-JWT-Extended's manager, decoding each token once per request.

    The limiter picks its bucket from the token before the view runs (``token_claims``), then
    ``jwt_required`` verifies the same token; both call ``decode_token``, which ends in this
    method. The library has no public way to hand a decoded token on, so its answer is kept
    in ``g`` for the rest of the request (a token that fails to decode is not kept).
    """

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        if not has_request_context():
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        decoded: dict[tuple[str, str | None, bool], dict[str, Any]]
        decoded = g.setdefault("decoded_tokens", {})
        key = (encoded_token, csrf_value, allow_expired)
        if key not in decoded:
            decoded[key] = super()._decode_jwt_from_config(*key)
        return decoded[key]


def token_claims() -> dict[str, Any] | None:
    """The claims of a valid access token in ``Authorization``, else None (decoded once).

    Only the signature and expiry are checked: that is enough to pick a rate-limit bucket, and
    revocation is enforced by the routes that need the caller. An admin's token is the one
    exception: it buys exemption from every limit, so its login must still be live (one
    query, for admin tokens only); an ended one counts as anonymous.
    """
    if "token_claims" not in g:
        claims: dict[str, Any] | None = None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" and "cookies" in current_app.config["JWT_TOKEN_LOCATION"]:
            token = request.cookies.get(current_app.config["JWT_ACCESS_COOKIE_NAME"], "")
        if token.strip().startswith("mp_"):  # an API key counts as its owner, in his tier
            from myproject.auth.key_access import key_claims  # (it imports this module)

            claims = key_claims()
        elif token.strip():
            try:
                decoded = decode_token(token.strip())
            except Exception:  # any invalid token is simply anonymous here
                decoded = None
            if decoded and decoded.get("type") == "access":
                claims = decoded
            if claims and claims.get("adm") and not _admin_login_is_live():
                claims = None
        g.token_claims = claims
    result: dict[str, Any] | None = g.token_claims
    return result


def _admin_login_is_live() -> bool:
    try:
        verify_jwt_in_request(optional=True)  # runs the app's revocation check
    except Exception:  # revoked, deactivated, or otherwise refused
        return False
    caller = get_current_user()
    return bool(caller is not None and caller.is_admin)


def client_address() -> str:
    # ProxyFix (TRUSTED_PROXIES > 0) has already rewritten remote_addr from X-Forwarded-For;
    # otherwise this is the socket peer and a forged header changes nothing.
    return request.remote_addr or "unknown"


def rate_limit_key() -> str:
    claims = token_claims()
    if claims is not None:
        return f"user:{claims['sub']}"
    return f"addr:{client_address()}"


def default_limit() -> str:
    """The caller's tier, as its access token states it (``prm``: set at login and refresh)."""
    claims = token_claims()
    if claims is None:
        key = "RATELIMIT_ANONYMOUS"
    elif claims.get("prm"):
        key = "RATELIMIT_PREMIUM"
    else:
        key = "RATELIMIT_SIGNED_IN"
    limit: str = current_app.config[key]
    if claims is not None:  # counted as anonymous instead if its login has ended
        g.ratelimit_tier = limit  # (myproject.ratelimit_window)
    return limit


def is_exempt() -> bool:
    claims = token_claims()
    return bool(claims and claims.get("adm"))


def configured(name: str) -> Callable[[], str]:
    """A limit string read from the app config when the request is checked (so tests and
    environments can change it): the first argument of ``limiter.limit``."""

    def limit() -> str:
        value: str = current_app.config[name]
        return value

    limit.__name__ = name
    return limit


RATELIMIT_LOGIN = configured("RATELIMIT_LOGIN")
RATELIMIT_REGISTER = configured("RATELIMIT_REGISTER")
RATELIMIT_PASSWORD_RESET = configured("RATELIMIT_PASSWORD_RESET")


def _body_field(name: str) -> str | None:
    """``name`` of the JSON body, stripped, if it is a string; None for any other body (the
    schema answers it). Flask parses the body once per request and keeps it."""
    body = request.get_json(silent=True)
    value = body.get(name) if isinstance(body, dict) else None
    return value.strip() if isinstance(value, str) else None


def login_name_key() -> str:
    """The per-name bucket of a login: the submitted name, case-folded, whether or not an
    account has it. A username and the email of the same account are counted apart, so a
    429 never tells which email belongs to which username."""
    return f"name:{(_body_field('username') or '').casefold()}"


def no_login_name() -> bool:
    """A body without a name is not counted per name (the address limit still counts it;
    the schema answers it)."""
    return not _body_field("username")


def password_reset_email() -> str:
    """The per-address bucket of a password reset request: the submitted email, case-folded,
    whether or not an account has it (so a 429 tells nothing about who exists)."""
    email = _body_field("email")
    return f"email:{email.lower()}" if email is not None else "email:-"
