"""The caller's login sessions (signed-in devices): ``/auth/sessions``."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_jwt_extended import current_user
from sqlalchemy import select
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import security_events
from myproject.accounts import revoke_session
from myproject.api.responses import json_response
from myproject.extensions import db
from myproject.models import LoginSession
from myproject.models.base import utcnow
from myproject.models.session import SESSIONS
from myproject.openapi import Blueprint
from myproject.schemas.api_key import LoginSessionSchema

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/auth/sessions",
    description="Login sessions: the caller's signed-in devices",
)


def _live_sessions() -> Any:
    return select(LoginSession).where(
        LoginSession.user_id == current_user.id,
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > utcnow(),
    )


@blp.route("")
class Sessions(MethodView):
    @blp.authenticated()
    @blp.response(200, LoginSessionSchema(many=True))
    @blp.errors()
    def get(self) -> Any:
        """List the caller's live logins, newest first"""
        current_id = g.caller_session.id
        rows = db.session.scalars(
            _live_sessions().order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
        )
        answer = []
        for session in rows:
            session.current = session.id == current_id
            answer.append(SESSIONS.serialize(session))
        response = json_response(answer)
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/<int4:session_id>")
class SessionById(MethodView):
    @blp.authenticated()
    @blp.response(204)
    @blp.errors(404)
    def delete(self, session_id: int) -> Any:
        """End one of the caller's logins, exactly as its own logout would"""
        found = db.session.scalar(
            _live_sessions().with_only_columns(LoginSession.id).where(LoginSession.id == session_id)
        )
        if found is None:
            abort(404, message=SESSIONS.not_found(session_id))
        security_events.record(
            security_events.SESSION_REVOKED,
            user_id=current_user.id,
            actor_id=current_user.id,
            detail={"session_id": session_id},
        )
        revoke_session(session_id=session_id)  # commits the event with the revocation
        return "", 204
