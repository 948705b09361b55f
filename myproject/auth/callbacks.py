"""Flask-JWT-Extended callbacks: revocation, the current user, and 401 problem JSON."""

from __future__ import annotations

from typing import Any

from flask import Response, g

from myproject.auth.sessions import load_caller
from myproject.errors import problem
from myproject.extensions import jwt
from myproject.models import User

WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="myproject"'}


def unauthorized(detail: str) -> Response:
    return problem(401, detail, headers=WWW_AUTHENTICATE)


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
def missing_token(_reason: str) -> Response:
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
