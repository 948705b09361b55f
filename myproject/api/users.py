"""User routes: registration, profiles, the caller's own account."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user
from sqlalchemy import select

from myproject import services
from myproject.api.access import (
    caller_session,
    get_user,
    get_user_for_write,
    is_self_or_admin,
    optional_caller,
)
from myproject.api.caching import cached_get
from myproject.api.idempotency import idempotent
from myproject.api.listing import list_items
from myproject.api.pagination import Ordering, paginate
from myproject.api.responses import created_response, json_response, user_response
from myproject.auth.key_access import refuse_for_keys
from myproject.extensions import limiter
from myproject.models import User
from myproject.openapi import LIST_HEADERS, Blueprint
from myproject.ratelimit import RATELIMIT_REGISTER, client_address
from myproject.schemas.item import ItemFilterQuerySchema, ItemSchema
from myproject.schemas.user import (
    USER_EITHER,
    ProtectedSchema,
    UserCreateSchema,
    UserListQuerySchema,
    UserPublicSchema,
    UserSchema,
    UserUpdateSchema,
)

blp = Blueprint("users", __name__, url_prefix="/api", description="Users")


@blp.route("/users")
class Users(MethodView):
    @blp.authenticated(public=True, scope="users:read")
    @cached_get()
    @blp.arguments(UserListQuerySchema(), location="query")
    @blp.response(200, UserPublicSchema(many=True), headers=LIST_HEADERS)
    @blp.errors()
    def get(self, args: dict[str, Any]) -> Any:
        """List users (public representation), oldest first"""
        users, headers = paginate(
            select(User),
            filters=[],
            count_from=User,
            ordering=Ordering(User.id, User.id, descending=False),
            page=args["page"],
            per_page=args["per_page"],
            cursor=args.get("cursor"),
            count_key="users-count",
        )
        return json_response([user.to_dict() for user in users], headers=headers)

    @limiter.limit(RATELIMIT_REGISTER, scope="register")
    @idempotent(blp)
    @blp.body(UserCreateSchema())
    @blp.response(201, UserSchema)
    @blp.errors(409)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a new user"""
        return created_response(services.create_user(**data))


@blp.route("/users/<int4:user_id>")
class UserById(MethodView):
    @blp.authenticated(optional=True, scope="users:read")
    @cached_get(anonymous_only=True)
    @blp.response(200, USER_EITHER)
    @blp.doc(description="Public representation, or private for the user themself or an admin.")
    @blp.errors(404)
    def get(self, user_id: int) -> Any:
        """Get a user"""
        user = get_user(user_id)
        return user_response(user, private=is_self_or_admin(optional_caller(), user))

    @blp.authenticated(scope="users:write")
    @blp.body(UserUpdateSchema())
    @blp.response(200, UserSchema)
    @blp.errors(403, 404, 409)
    def patch(self, changes: dict[str, Any], user_id: int) -> Any:
        """Update a user (self or admin)"""
        if {"password", "current_password", "email"} & changes.keys():
            refuse_for_keys("change a password or an email address")
        user = services.update_user(
            user=get_user_for_write(user_id),
            caller=current_user,
            caller_session=caller_session(),
            changes=changes,
            ip=client_address(),
        )
        return user_response(user, private=True)

    @blp.authenticated()
    @blp.response(204)
    @blp.errors(403, 404)
    def delete(self, user_id: int) -> Any:
        """Delete a user and their items (self or admin)"""
        services.delete_user(user=get_user_for_write(user_id), actor=current_user)
        return "", 204


@blp.route("/users/me")
class Me(MethodView):
    @blp.authenticated(scope="users:read")
    @blp.response(200, UserSchema)
    @blp.errors()
    def get(self) -> Any:
        """The caller's own account"""
        return user_response(current_user, private=True)


@blp.route("/users/<int4:user_id>/items")
class UserItems(MethodView):
    @blp.authenticated(public=True, scope="items:read")
    @cached_get()
    @blp.arguments(ItemFilterQuerySchema(), location="query")
    @blp.response(200, ItemSchema(many=True), headers=LIST_HEADERS)
    @blp.errors(404)
    def get(self, args: dict[str, Any], user_id: int) -> Any:
        """List one user's items (same filters as /api/items)"""
        get_user(user_id)
        return list_items({**args, "owner": user_id})


@blp.route("/protected")
class Protected(MethodView):
    @blp.authenticated(scope="users:read")
    @blp.response(200, ProtectedSchema)
    @blp.errors()
    def get(self) -> Any:
        """Greet the signed-in caller"""
        return {"message": f"Hello, {current_user.username}!"}
