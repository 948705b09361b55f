"""Page-number pagination with ``X-Total-Count`` and RFC 8288 ``Link`` headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import request, url_for
from sqlalchemy import ColumnElement, Select, func, select

from myproject.extensions import db


def page_links(page: int, per_page: int, total: int) -> str:
    """The Link header value: first, last, and prev/next where they exist."""
    last = max(1, -(-total // per_page))
    targets = {"first": 1, "last": last}
    if page > 1:
        targets["prev"] = min(page - 1, last)
    if page < last:
        targets["next"] = page + 1
    args = request.args.to_dict(flat=False)
    view_args = request.view_args or {}
    links = []
    for rel, target in targets.items():
        args["page"] = [str(target)]
        args["per_page"] = [str(per_page)]
        endpoint = request.endpoint or ""
        url = url_for(endpoint, _external=True, **view_args, **args)  # type: ignore[arg-type]
        links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)


def paginate(
    stmt: Select[Any],
    *,
    filters: Sequence[ColumnElement[bool]],
    count_from: Any,
    page: int,
    per_page: int,
) -> tuple[list[Any], dict[str, str]]:
    """Run one page of ``stmt`` and count the matching rows: exactly two statements.

    Returns the rows and the ``X-Total-Count`` and ``Link`` headers.
    """
    count_stmt = select(func.count()).select_from(count_from).where(*filters)
    total = db.session.scalar(count_stmt) or 0
    rows: list[Any] = []
    if (page - 1) * per_page < total:
        rows = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    headers = {"X-Total-Count": str(total), "Link": page_links(page, per_page, total)}
    return rows, headers
