"""Item routes: list, create, read, replace, update, delete."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import current_user

from myproject import services
from myproject.api.access import get_item, get_item_for_write
from myproject.api.caching import cached_get
from myproject.api.idempotency import idempotent
from myproject.api.listing import list_items
from myproject.api.responses import created_response, item_response
from myproject.openapi import ETAG_HEADER, LIST_HEADERS, Blueprint
from myproject.schemas.item import (
    ItemCreateSchema,
    ItemListQuerySchema,
    ItemSchema,
    ItemUpdateSchema,
)

blp = Blueprint("items", __name__, url_prefix="/api/items", description="Items")


@blp.route("")
class Items(MethodView):
    @blp.authenticated(public=True, scope="items:read")
    @cached_get()
    @blp.arguments(ItemListQuerySchema(), location="query")
    @blp.response(200, ItemSchema(many=True), headers=LIST_HEADERS)
    @blp.errors()
    def get(self, args: dict[str, Any]) -> Any:
        """List items, newest first by default"""
        return list_items(args)

    @blp.authenticated(scope="items:write")
    @idempotent(blp)
    @blp.body(ItemCreateSchema())
    @blp.response(201, ItemSchema, headers=ETAG_HEADER)
    @blp.errors(409)
    def post(self, fields: dict[str, Any]) -> Any:
        """Create an item owned by the caller"""
        return created_response(services.create_item(owner=current_user, fields=fields))


@blp.route("/<int4:item_id>")
class ItemById(MethodView):
    @blp.authenticated(public=True, scope="items:read")
    @cached_get()
    @blp.if_none_match
    @blp.response(200, ItemSchema, headers=ETAG_HEADER)
    @blp.errors(404)
    def get(self, item_id: int) -> Any:
        """Get an item"""
        return item_response(get_item(item_id))

    @blp.authenticated(scope="items:write")
    @blp.body(ItemCreateSchema())
    @blp.if_match
    @blp.response(200, ItemSchema, headers=ETAG_HEADER)
    @blp.errors(403, 404)
    def put(self, fields: dict[str, Any], item_id: int) -> Any:
        """Replace an item (owner or admin)"""
        item = services.update_item(item=get_item_for_write(item_id), fields=fields)
        return item_response(item)

    @blp.authenticated(scope="items:write")
    @blp.body(ItemUpdateSchema())
    @blp.if_match
    @blp.response(200, ItemSchema, headers=ETAG_HEADER)
    @blp.errors(403, 404)
    def patch(self, fields: dict[str, Any], item_id: int) -> Any:
        """Update some fields of an item (owner or admin)"""
        item = services.update_item(item=get_item_for_write(item_id), fields=fields)
        return item_response(item)

    @blp.authenticated(scope="items:write")
    @blp.if_match
    @blp.response(204)
    @blp.errors(403, 404)
    def delete(self, item_id: int) -> Any:
        """Delete an item (owner or admin)"""
        services.delete_item(item=get_item_for_write(item_id))
        return "", 204
