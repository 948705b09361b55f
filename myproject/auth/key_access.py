"""API keys on requests: who a key is, and whether the route it calls allows it.

Every route of an API blueprint (``myproject.openapi.Blueprint``) declares the scope a key
needs with ``@blp.authenticated(scope=...)``; a route that declares none refuses keys (403).
``enforce_key_scope`` runs before every such view (after the rate limiter, which already
counted the request against the key's owner), so no route can forget the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import api_keys
from myproject.auth.callbacks import unauthorized
from myproject.errors import problem
from myproject.extensions import db
from myproject.models import User
from myproject.openapi import API_KEY_SCOPE, Blueprint

NOT_WITH_A_KEY = (
    "API keys cannot be used here: sign in with a password (POST /auth/token) for this."
)


@dataclass(frozen=True)
class KeyCaller:
    grant: api_keys.KeyGrant
    user: User


def presented_key() -> str | None:
    """The API key in ``Authorization: Bearer mp_...``, else None (a JWT, or nothing)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and api_keys.looks_like_key(token):
        return token
    return None


def key_caller() -> KeyCaller | None:
    """The live key of this request and its active owner (looked up once per request)."""
    if "key_caller" not in g:
        caller = None
        token = presented_key()
        grant = api_keys.grant_for(token) if token else None
        if grant is not None:
            user = db.session.get(User, grant.user_id)
            if user is not None and user.is_active:
                caller = KeyCaller(grant, user)
        g.key_caller = caller
    result: KeyCaller | None = g.key_caller
    return result


def key_claims() -> dict[str, Any] | None:
    """What the rate limiter needs of a key's owner (his bucket and tier), as token claims."""
    caller = key_caller()
    if caller is None:
        return None
    user = caller.user
    return {"sub": str(user.id), "type": "api_key", "adm": user.is_admin, "prm": user.is_premium}


def is_key_request() -> bool:
    return bool(g.get("api_key_checked"))


def refuse_for_keys(action: str) -> None:
    """Abort with 403 when a key made this request: ``action`` is for logins only."""
    if is_key_request():
        abort(403, message=f"An API key cannot {action}; sign in with a password for this.")


def _declared_scope() -> tuple[bool, str | None]:
    """(whether this is an API route, the scope its view declares for keys)."""
    blueprint = current_app.blueprints.get(request.blueprint or "")
    view = current_app.view_functions.get(request.endpoint or "")
    if not isinstance(blueprint, Blueprint) or view is None:
        return False, None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = request.method.lower()
        view = getattr(view_class, "get" if method == "head" else method, None)
    return True, getattr(view, API_KEY_SCOPE, None)


def enforce_key_scope() -> Response | None:
    """Before each view: a key must be live and hold the scope the route declares."""
    token = presented_key()
    if token is None or request.method == "OPTIONS":
        return None
    api_route, scope = _declared_scope()
    if not api_route:
        return None
    caller = key_caller()
    if caller is None:
        return unauthorized("The API key is invalid, expired or revoked.")
    if scope is None:
        return problem(403, NOT_WITH_A_KEY)
    if scope not in caller.grant.scopes:
        return problem(403, f"This API key lacks the scope {scope!r} this request needs.")
    g.api_key_checked = True
    g.caller = caller.user
    # What flask_jwt_extended's current_user and get_jwt() read (views use current_user).
    g._jwt_extended_jwt = {"sub": str(caller.user.id), "type": "api_key"}
    g._jwt_extended_jwt_header = {}
    g._jwt_extended_jwt_user = {"loaded_user": caller.user}
    g._jwt_extended_jwt_location = "headers"
    api_keys.touch(caller.grant)
    return None
