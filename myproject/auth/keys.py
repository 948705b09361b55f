"""Personal access tokens: ``/auth/api-keys`` (managed with a login's token, never a key).

Also binds ``key_access.enforce_key_scope`` before every request of the app, so every API
route checks the scope it declares.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user
from sqlalchemy import select
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import api_keys
from myproject.api.responses import created_response, json_response, representation
from myproject.auth.key_access import enforce_key_scope
from myproject.extensions import db
from myproject.models import ApiKey
from myproject.models.api_key import API_KEYS
from myproject.openapi import Blueprint
from myproject.schemas.api_key import ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeySchema

blp = Blueprint(
    "api_keys",
    __name__,
    url_prefix="/auth/api-keys",
    description="Personal access tokens (API keys) for scripts: managed with a login's token",
)
blp.before_app_request(enforce_key_scope)


def _own_key(key_id: int) -> ApiKey:
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == current_user.id)
    )
    if key is None:
        abort(404, message=API_KEYS.not_found(key_id))
    return key


@blp.route("")
class ApiKeys(MethodView):
    @blp.authenticated()
    @blp.response(200, ApiKeySchema(many=True))
    @blp.errors()
    def get(self) -> Any:
        """List the caller's API keys (never the keys themselves), newest first"""
        keys = db.session.scalars(
            select(ApiKey)
            .where(ApiKey.user_id == current_user.id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        )
        response = json_response([API_KEYS.serialize(key) for key in keys])
        response.headers["Cache-Control"] = "no-store"
        return response

    @blp.authenticated()
    @blp.body(ApiKeyCreateSchema())
    @blp.response(201, ApiKeyCreatedSchema)
    @blp.errors()
    def post(self, data: dict[str, Any]) -> Any:
        """Create an API key; the answer is the only one that shows the key"""
        return created_response(api_keys.create_key(user=current_user, **data))


@blp.route("/<int4:key_id>")
class ApiKeyById(MethodView):
    @blp.authenticated()
    @blp.response(200, ApiKeySchema)
    @blp.errors(404)
    def get(self, key_id: int) -> Any:
        """Get one of the caller's API keys"""
        return representation(API_KEYS, _own_key(key_id))

    @blp.authenticated()
    @blp.response(204)
    @blp.errors(404)
    def delete(self, key_id: int) -> Any:
        """Delete an API key: it stops working at once, on every instance"""
        api_keys.revoke_key(key=_own_key(key_id))
        return "", 204
