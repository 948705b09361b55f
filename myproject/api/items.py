"""Item routes: list, create, read, replace, update, delete."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import Blueprint
from sqlalchemy import ColumnElement, or_, select

from myproject import services
from myproject.api.access import etag_of, get_item, get_item_for_write, item_body
from myproject.api.openapi import ETAG_HEADER, IDEMPOTENCY_KEY, IF_MATCH, LIST_HEADERS, errors
from myproject.api.pagination import Ordering, paginate
from myproject.caching import cached_get
from myproject.idempotency import idempotent
from myproject.models import Item, User
from myproject.models.item import item_representation
from myproject.schemas.item import (
    ItemCreateSchema,
    ItemListQuerySchema,
    ItemSchema,
    ItemUpdateSchema,
)

blp = Blueprint("items", __name__, url_prefix="/api/items", description="Items")
ITEM_ID = "<int(max=2147483647):item_id>"
SORT_COLUMNS = {"created_at": Item.created_at, "name": Item.name, "updated_at": Item.updated_at}


def escape_like(value: str) -> str:
    """Make ``%`` and ``_`` match literally in a LIKE pattern (escape character ``\\``)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def item_filters(args: dict[str, Any]) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if "category" in args:
        filters.append(Item.category == args["category"])
    if "owner" in args:
        filters.append(Item.user_id == args["owner"])
    if "q" in args:
        pattern = f"%{escape_like(args['q'])}%"
        filters.append(
            or_(
                Item.name.ilike(pattern, escape="\\"),
                Item.description.ilike(pattern, escape="\\"),
            )
        )
    return filters


def list_items(args: dict[str, Any]) -> Response:
    """One page of items with owners, in a total order: two SQL statements, any page size.

    Bodies come from ``Item.to_dict()`` (the schema in ``@blp.response`` documents them, and a
    test keeps the two equal): a marshmallow dump of 100 items costs more than the query.
    """
    sort = args["sort"]
    ordering = Ordering(SORT_COLUMNS[sort.lstrip("-")], Item.id, descending=sort.startswith("-"))
    filters = item_filters(args)
    filter_key = json.dumps({k: args.get(k) for k in ("category", "owner", "q")}, sort_keys=True)
    items, headers = paginate(
        select(*Item.representation_columns()).join(User, User.id == Item.user_id),
        filters=filters,
        count_from=Item,
        ordering=ordering,
        page=args["page"],
        per_page=args["per_page"],
        cursor=args.get("cursor"),
        count_key=f"items-count:{filter_key}",
        as_rows=True,
    )
    body = current_app.json.dumps([item_representation(row) for row in items])
    return current_app.response_class(body, mimetype="application/json", headers=headers)


def one_item(item: Any, status: int = 200, **headers: str) -> Response:
    """An item answer with its ETag header."""
    body = item_body(item)
    response = current_app.response_class(body, status=status, mimetype="application/json")
    response.headers.update({"ETag": f'"{etag_of(body)}"', **headers})
    return response


@blp.route("")
class Items(MethodView):
    @cached_get()
    @blp.arguments(ItemListQuerySchema(), location="query")
    @blp.response(200, ItemSchema(many=True), headers=LIST_HEADERS)
    @errors(blp)
    def get(self, args: dict[str, Any]) -> Any:
        """List items, newest first by default"""
        return list_items(args)

    @jwt_required()
    @idempotent
    @blp.arguments(ItemCreateSchema())
    @blp.response(201, ItemSchema, headers=ETAG_HEADER)
    @errors(blp, 409, auth=True, body=True, parameters=[IDEMPOTENCY_KEY])
    def post(self, fields: dict[str, Any]) -> Any:
        """Create an item owned by the caller"""
        item = services.create_item(owner=current_user, fields=fields)
        return one_item(
            item, 201, Location=url_for("items.ItemById", item_id=item.id, _external=True)
        )


@blp.route(f"/{ITEM_ID}")
class ItemById(MethodView):
    @cached_get()
    @blp.response(200, ItemSchema, headers=ETAG_HEADER)
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @errors(blp, 404)
    def get(self, item_id: int) -> Any:
        """Get an item"""
        return one_item(get_item(item_id))

    @jwt_required()
    @blp.arguments(ItemCreateSchema())
    @blp.response(200, ItemSchema, headers=ETAG_HEADER)
    @errors(blp, 403, 404, 412, auth=True, body=True, parameters=[IF_MATCH])
    def put(self, fields: dict[str, Any], item_id: int) -> Any:
        """Replace an item (owner or admin)"""
        return one_item(services.update_item(item=get_item_for_write(item_id), fields=fields))

    @jwt_required()
    @blp.arguments(ItemUpdateSchema())
    @blp.response(200, ItemSchema, headers=ETAG_HEADER)
    @errors(blp, 403, 404, 412, auth=True, body=True, parameters=[IF_MATCH])
    def patch(self, fields: dict[str, Any], item_id: int) -> Any:
        """Update some fields of an item (owner or admin)"""
        return one_item(services.update_item(item=get_item_for_write(item_id), fields=fields))

    @jwt_required()
    @blp.response(204)
    @errors(blp, 403, 404, 412, auth=True, parameters=[IF_MATCH])
    def delete(self, item_id: int) -> Any:
        """Delete an item (owner or admin)"""
        services.delete_item(item=get_item_for_write(item_id))
        return "", 204
