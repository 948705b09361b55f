"""Flask-JWT-Extended callbacks: revocation, the current user, and 401 problem JSON."""

from __future__ import annotations

from typing import Any

from flask import Response, g
from flask_jwt_extended.config import config
from flask_jwt_extended.exceptions import JWTDecodeError

from myproject.auth.sessions import load_caller
from myproject.errors import problem
from myproject.extensions import jwt
from myproject.models import User

WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="myproject"'}
# RFC 8725: a token without any of these is refused even when its signature is valid
# (Flask-JWT-Extended would default a missing type to "access" and a missing jti to None).
REQUIRED_CLAIMS = frozenset({"exp", "iat", "sub", "jti", "type"})


def unauthorized(detail: str) -> Response:
    return problem(401, detail, headers=WWW_AUTHENTICATE)


@jwt.decode_key_loader
def decode_key(_header: dict[str, Any], unverified_claims: dict[str, Any]) -> str:
    """The verification key, for tokens that carry every required claim (else 401)."""
    missing = REQUIRED_CLAIMS - unverified_claims.keys()
    if missing:
        raise JWTDecodeError(f"Missing claims: {', '.join(sorted(missing))}")
    key: str = config.decode_key
    return key


@jwt.token_in_blocklist_loader
def token_is_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    return load_caller(payload)


@jwt.user_lookup_loader
def current_caller(_header: dict[str, Any], _payload: dict[str, Any]) -> User | None:
    caller: User | None = g.get("caller")
    return caller


@jwt.user_lookup_error_loader
def caller_not_found(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return unauthorized("The token's user no longer exists.")


@jwt.unauthorized_loader
def missing_token(reason: str) -> Response:
    if "CSRF" in reason:  # cookie mode: the cookie came, the double-submit header did not
        return unauthorized(
            "Missing or wrong X-CSRF-TOKEN header: a cookie-authenticated write must send the "
            "value of the csrf_access_token cookie (csrf_refresh_token to refresh) in it."
        )
    return unauthorized("Missing or malformed Authorization header; send 'Bearer <token>'.")


@jwt.invalid_token_loader
def invalid_token(_reason: str) -> Response:
    return unauthorized("The token is invalid.")


@jwt.expired_token_loader
def expired_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return unauthorized("The token has expired.")


@jwt.revoked_token_loader
def revoked_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return unauthorized("The token has been revoked.")


@jwt.needs_fresh_token_loader
def stale_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return unauthorized("A fresh login is required.")


@jwt.token_verification_failed_loader
def claims_rejected(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return unauthorized("The token is invalid.")
