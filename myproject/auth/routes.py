"""Token endpoints: log in, rotate the refresh token, log out."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify
from flask.views import MethodView
from flask_jwt_extended import get_jwt, set_access_cookies, set_refresh_cookies, unset_jwt_cookies
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import security_events
from myproject.accounts import revoke_session, revoke_user_sessions
from myproject.auth import callbacks  # noqa: F401  (registers the JWT callbacks)
from myproject.auth.callbacks import WWW_AUTHENTICATE
from myproject.auth.sessions import TokenPair, authenticate, rotate_refresh, start_session
from myproject.extensions import limiter
from myproject.openapi import Blueprint
from myproject.ratelimit import RATELIMIT_LOGIN, client_address, login_name_key, no_login_name
from myproject.schemas.auth import TOKEN_EITHER, LoginSchema

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Authentication")


def token_response(pair: TokenPair) -> Any:
    """The pair in the body (and the cookies in cookie mode); with cookies only, the body
    carries no token, so script on the page never sees one."""
    locations = current_app.config["JWT_TOKEN_LOCATION"]
    if "headers" in locations or "cookies" not in locations:
        response = jsonify(pair.to_dict())
    else:
        response = jsonify({"token_type": "cookie", "expires_in": pair.expires_in})
    if "cookies" in locations:
        set_access_cookies(response, pair.access_token)
        set_refresh_cookies(response, pair.refresh_token)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/token")
class Token(MethodView):
    # Per submitted name (case-folded) and per address, each counted on its own; the headers
    # report the address limit (Flask-Limiter reports the first one declared from the bottom).
    @limiter.limit(
        RATELIMIT_LOGIN, key_func=login_name_key, exempt_when=no_login_name, scope="login-name"
    )
    @limiter.limit(RATELIMIT_LOGIN, key_func=client_address, scope="login-address")
    @blp.body(LoginSchema())
    @blp.response(200, TOKEN_EITHER)
    @blp.errors(401)
    def post(self, credentials: dict[str, str]) -> Any:
        """Log in with username (or email) and password"""
        user = authenticate(login=credentials["username"], password=credentials["password"])
        if user is None:
            abort(401, message="Invalid username or password.", headers=WWW_AUTHENTICATE)
        return token_response(start_session(user=user))


@blp.route("/token/refresh")
class TokenRefresh(MethodView):
    @blp.authenticated(refresh=True)
    @blp.response(200, TOKEN_EITHER)
    @blp.errors()
    def post(self) -> Any:
        """Exchange a refresh token for a new pair; the presented token is spent"""
        pair = rotate_refresh(
            user=g.caller, session=g.caller_session, presented_jti=get_jwt()["jti"]
        )
        if pair is None:
            abort(
                401,
                message="The refresh token was already used; this login is revoked.",
                headers=WWW_AUTHENTICATE,
            )
        return token_response(pair)


@blp.route("/logout")
class Logout(MethodView):
    @blp.authenticated()
    @blp.response(204)
    @blp.errors()
    def post(self) -> Any:
        """End this login: its access and refresh tokens stop working"""
        security_events.record(
            security_events.LOGOUT,
            user_id=g.caller.id,
            actor_id=g.caller.id,
            detail={"session_id": g.caller_session.id},
        )
        revoke_session(session_id=g.caller_session.id)  # commits the event with the revocation
        return _no_content()


@blp.route("/logout-all")
class LogoutAll(MethodView):
    @blp.authenticated()
    @blp.response(204)
    @blp.errors()
    def post(self) -> Any:
        """End every login of the caller"""
        security_events.record(
            security_events.LOGOUT_ALL, user_id=g.caller.id, actor_id=g.caller.id
        )
        revoke_user_sessions(user_id=g.caller.id)  # commits the event with the revocation
        return _no_content()


def _no_content() -> Any:
    response = current_app.response_class(status=204)
    if "cookies" in current_app.config["JWT_TOKEN_LOCATION"]:
        unset_jwt_cookies(response)
    return response
