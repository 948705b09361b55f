"""Security events over HTTP: the caller's own log, every user's for admins, and the origin
(address and User-Agent) of each request, which the events recorded during it carry."""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask.views import MethodView
from flask_jwt_extended import current_user
from sqlalchemy import ColumnElement, select
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import security_events
from myproject.api.pagination import Ordering, paginate
from myproject.api.responses import json_response
from myproject.models import SecurityEvent
from myproject.models.security_event import SECURITY_EVENTS, security_event_dict
from myproject.openapi import LIST_HEADERS, Blueprint
from myproject.ratelimit import client_address
from myproject.schemas.security_event import (
    OwnSecurityEventsQuerySchema,
    SecurityEventSchema,
    SecurityEventsQuerySchema,
)

blp = Blueprint("security_events", __name__, url_prefix="/api", description="Security events")

NEWEST_FIRST = Ordering(SecurityEvent.created_at, SecurityEvent.id, descending=True)


@blp.before_app_request
def _set_origin() -> None:
    # The domain records events with this origin (myproject.security_events explains why a
    # context variable); the address is the rate limiter's, behind trusted proxies too.
    origin = security_events.Origin(
        ip=client_address(), user_agent=request.headers.get("User-Agent") or None
    )
    g.security_event_origin = security_events.set_origin(origin)


@blp.teardown_app_request
def _reset_origin(_exc: BaseException | None) -> None:
    token = g.pop("security_event_origin", None)
    if token is not None:
        security_events.reset_origin(token)


def _page(args: dict[str, Any], filters: list[ColumnElement[bool]], *, admin: bool) -> Any:
    events, headers = paginate(
        select(SecurityEvent),
        filters=filters,
        count_from=SecurityEvent,
        ordering=NEWEST_FIRST,
        page=args["page"],
        per_page=args["per_page"],
        cursor=args.get("cursor"),
    )
    body = [security_event_dict(event, admin=admin) for event in events]
    return json_response(body, headers={**headers, "Cache-Control": "no-store"})


@blp.route("/users/me/security-events")
class OwnSecurityEvents(MethodView):
    @blp.authenticated()
    @blp.arguments(OwnSecurityEventsQuerySchema(), location="query")
    @blp.response(200, SecurityEventSchema(many=True), headers=LIST_HEADERS)
    @blp.doc(description="The old and new address of `email_changed` are for admins only.")
    @blp.errors()
    def get(self, args: dict[str, Any]) -> Any:
        """The caller's security events, newest first"""
        filters = [
            SecurityEvent.user_id == current_user.id,
            # Not the events of an earlier account that had this id (SQLite reuses the
            # highest id after a delete); the index on (user_id, created_at, id) serves both.
            SecurityEvent.created_at >= current_user.created_at,
        ]
        return _page(args, filters, admin=False)


@blp.route("/security-events")
class SecurityEvents(MethodView):
    @blp.authenticated()
    @blp.arguments(SecurityEventsQuerySchema(), location="query")
    @blp.response(200, SecurityEventSchema(many=True), headers=LIST_HEADERS)
    @blp.doc(description="Admins only. Events outlive the users they are about.")
    @blp.errors(403)
    def get(self, args: dict[str, Any]) -> Any:
        """Every user's security events, newest first (admin)"""
        if not current_user.is_admin:
            abort(403, message=SECURITY_EVENTS.forbidden)
        filters: list[ColumnElement[bool]] = []
        if "user" in args:
            filters.append(SecurityEvent.user_id == args["user"])
        if "type" in args:
            filters.append(SecurityEvent.type == args["type"])
        return _page(args, filters, admin=True)
