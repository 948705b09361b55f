"""Item lists, shared by ``/api/items`` and ``/api/users/<id>/items``: filters, a total
order, pagination."""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from sqlalchemy import ColumnElement, or_, select

from myproject.api.pagination import Ordering, paginate
from myproject.api.responses import json_response
from myproject.models import Item, User
from myproject.models.item import item_dict

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

    Rows of ``Item.dict_columns()`` go straight through ``item_dict``: loading ORM objects or
    a marshmallow dump of 100 items would cost more than the query.
    """
    sort = args["sort"]
    ordering = Ordering(SORT_COLUMNS[sort.lstrip("-")], Item.id, descending=sort.startswith("-"))
    filters = item_filters(args)
    filter_key = json.dumps({k: args.get(k) for k in ("category", "owner", "q")}, sort_keys=True)
    rows, headers = paginate(
        select(*Item.dict_columns()).join(User, User.id == Item.user_id),
        filters=filters,
        count_from=Item,
        ordering=ordering,
        page=args["page"],
        per_page=args["per_page"],
        cursor=args.get("cursor"),
        count_key=f"items-count:{filter_key}",
        as_rows=True,
        capped="q" in args,  # a search counts at most COUNT_CAP + 1 matches
    )
    return json_response([item_dict(row) for row in rows], headers=headers)
