"""User routes: registration, profiles, the caller's own account."""

from __future__ import annotations

from typing import Any

from flask import jsonify, url_for
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import Blueprint
from sqlalchemy import select

from myproject import services
from myproject.api.access import get_user, get_user_for_write, is_self_or_admin, optional_caller
from myproject.api.items import list_items
from myproject.api.openapi import IDEMPOTENCY_KEY, LIST_HEADERS, errors
from myproject.api.pagination import Ordering, paginate
from myproject.caching import cached_get
from myproject.extensions import limiter
from myproject.idempotency import idempotent
from myproject.models import User
from myproject.ratelimit import register_limit
from myproject.schemas.item import ItemListQuerySchema, ItemSchema
from myproject.schemas.user import (
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
    @cached_get()
    @blp.arguments(UserListQuerySchema(), location="query")
    @blp.response(200, UserPublicSchema(many=True), headers=LIST_HEADERS)
    @errors(blp)
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
        return users, 200, headers

    @idempotent
    @limiter.limit(register_limit, methods=["POST"], scope="register")
    @blp.arguments(UserCreateSchema())
    @blp.response(201, UserSchema)
    @errors(blp, 409, body=True, parameters=[IDEMPOTENCY_KEY])
    def post(self, data: dict[str, str]) -> Any:
        """Register a new user"""
        user = services.create_user(**data)
        return user, 201, {"Location": url_for("users.UserById", user_id=user.id, _external=True)}


@blp.route("/users/<int(max=2147483647):user_id>")
class UserById(MethodView):
    @cached_get(anonymous_only=True)
    @blp.response(200, UserSchema)
    @blp.doc(description="Public representation, or private for the user themself or an admin.")
    @errors(blp, 401, 404)
    def get(self, user_id: int) -> Any:
        """Get a user"""
        user = get_user(user_id)
        if is_self_or_admin(optional_caller(), user):
            return user
        return jsonify(UserPublicSchema().dump(user))

    @jwt_required()
    @blp.arguments(UserUpdateSchema())
    @blp.response(200, UserSchema)
    @errors(blp, 403, 404, 409, auth=True, body=True)
    def patch(self, changes: dict[str, Any], user_id: int) -> Any:
        """Update a user (self or admin)"""
        user = get_user_for_write(user_id)
        return services.update_user(user=user, caller=current_user, changes=changes)

    @jwt_required()
    @blp.response(204)
    @errors(blp, 403, 404, auth=True)
    def delete(self, user_id: int) -> Any:
        """Delete a user and their items (self or admin)"""
        services.delete_user(user=get_user_for_write(user_id))
        return "", 204


@blp.route("/users/me")
class Me(MethodView):
    @jwt_required()
    @blp.response(200, UserSchema)
    @errors(blp, auth=True)
    def get(self) -> Any:
        """The caller's own account"""
        return current_user


@blp.route("/users/<int(max=2147483647):user_id>/items")
class UserItems(MethodView):
    @cached_get()
    @blp.arguments(ItemListQuerySchema(), location="query")
    @blp.response(200, ItemSchema(many=True), headers=LIST_HEADERS)
    @errors(blp, 404)
    def get(self, args: dict[str, Any], user_id: int) -> Any:
        """List one user's items (same filters as /api/items)"""
        get_user(user_id)
        return list_items({**args, "owner": user_id})


@blp.route("/protected")
class Protected(MethodView):
    @jwt_required()
    @blp.response(200, ProtectedSchema)
    @errors(blp, auth=True)
    def get(self) -> Any:
        """Greet the signed-in caller"""
        return {"message": f"Hello, {current_user.username}!"}
