"""The "raw floor": the read endpoints as a bare Flask app, for bench/run.sh to compare against.

No SQLAlchemy, no marshmallow, no Flask extensions, no cache: hand-written SQL through plain
psycopg 3 connections, answered with the same JSON bytes, ``X-Total-Count``, ``Link`` and
``ETag`` headers as the real API. Whatever the real app spends above this floor is the price of
its framework stack; see bench/README.md.

Serve it with the project's gunicorn settings (the positional APP argument overrides the
``wsgi_app`` of gunicorn.conf.py)::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/myproject_bench \\
        gunicorn -c gunicorn.conf.py -b 127.0.0.1:8001 bench.floor_app:app
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from binascii import Error as binascii_error
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from flask import Flask, Response, jsonify, request, url_for

SORTS = {
    "created_at": "items.created_at",
    "name": "items.name",
    "updated_at": "items.updated_at",
}
ITEM_COLUMNS = (
    "items.id, items.name, items.description, items.category, "
    "users.id, users.username, items.created_at, items.updated_at"
)
MAX_POOLED = 32
COUNT_CAP = 10_000  # myproject.api.pagination.COUNT_CAP: a search counts at most this + 1


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/myproject_bench")
    # Accept the SQLAlchemy spelling used by the real app too.
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class ConnectionPool:
    """A lock-protected list of idle autocommit connections (works for threads and greenlets)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.idle: list[psycopg.Connection[Any]] = []

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self.lock:
            conn = self.idle.pop() if self.idle else None
        if conn is None or conn.closed:
            conn = psycopg.connect(self.url, autocommit=True)
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        with self.lock:
            if len(self.idle) < MAX_POOLED:
                self.idle.append(conn)
                return
        conn.close()


app = Flask(__name__, static_folder=None)
app.json.sort_keys = False  # type: ignore[attr-defined]
pool = ConnectionPool(database_url())


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def item_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    item_id, name, description, category, owner_id, username, created, updated = row
    return {
        "id": item_id,
        "name": name,
        "description": description,
        "category": category,
        "owner": {"id": owner_id, "username": username},
        "created_at": iso(created),
        "updated_at": iso(updated),
    }


def json_response(data: Any) -> Response:
    """The body exactly as the real API writes it: ``app.json.dumps`` and one newline."""
    return app.response_class(app.json.dumps(data) + "\n", mimetype="application/json")


def etag_of(body: bytes) -> str:
    """Strong ETag of the sent bytes, as myproject.api.access.etag_of."""
    return hashlib.sha256(body).hexdigest()[:32]


def problem(status: int, title: str, detail: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def int_arg(name: str, default: int, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def make_cursor(page: int, value: Any, row_id: int) -> str:
    """The ``next`` link's keyset cursor, as myproject.api.pagination.Ordering.cursor_for."""
    encoded = iso(value) if isinstance(value, datetime) else value
    raw = json.dumps([page, encoded, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(cursor: str, page: int) -> tuple[Any, int] | None:
    """(sort value, id) after which ``page`` starts; None if made for another page.

    Raises ValueError for a malformed cursor.
    """
    padded = cursor + "=" * (-len(cursor) % 4)
    cursor_page, value, row_id = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(row_id, int) or not isinstance(cursor_page, int):
        raise ValueError("bad cursor")
    if cursor_page != page:
        return None
    return value, row_id


def page_links(
    page: int, per_page: int, total: int, next_cursor: str | None, more: bool = False
) -> str:
    """The same Link header as myproject.api.pagination.page_links."""
    last = max(1, -(-total // per_page))
    targets = {"first": 1, "last": last}
    if page > 1:
        targets["prev"] = min(page - 1, last) if not more else page - 1
    if page < last or more:
        targets["next"] = page + 1
    base_args = request.args.to_dict(flat=False)
    base_args.pop("cursor", None)
    links = []
    for rel, target in targets.items():
        args = {**base_args, "page": [str(target)], "per_page": [str(per_page)]}
        if rel == "next" and next_cursor is not None:
            args["cursor"] = [next_cursor]
        url = url_for("list_items", _external=True, **args)  # type: ignore[arg-type]
        links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)


@app.get("/health")
def health() -> Response:
    return jsonify({"status": "ok"})


@app.get("/api/items/<int(max=2147483647):item_id>")
def get_item(item_id: int) -> Response:
    with pool.connection() as conn:
        row = conn.execute(
            f"SELECT {ITEM_COLUMNS} FROM items JOIN users ON users.id = items.user_id "
            "WHERE items.id = %s",
            (item_id,),
        ).fetchone()
    if row is None:
        return problem(404, "Not Found", f"Item {item_id} does not exist.")
    response = json_response(item_dict(row))
    response.headers["ETag"] = f'"{etag_of(response.get_data())}"'
    return response


@app.get("/api/items")
def list_items() -> Response:
    page = int_arg("page", 1, 1, 10_000_000)
    per_page = int_arg("per_page", 20, 1, 100)
    sort = request.args.get("sort", "-created_at")
    if page is None or per_page is None or sort.lstrip("-") not in SORTS:
        return problem(422, "Unprocessable Entity", "Bad query parameters.")
    where: list[str] = []
    params: list[Any] = []
    if "category" in request.args:
        where.append("items.category = %s")
        params.append(request.args["category"])
    if "owner" in request.args:
        where.append("items.user_id = %s")
        params.append(int(request.args["owner"]))
    if "q" in request.args:
        pattern = f"%{escape_like(request.args['q'])}%"
        where.append("(items.name ILIKE %s ESCAPE '\\' OR items.description ILIKE %s ESCAPE '\\')")
        params += [pattern, pattern]
    key = sort.lstrip("-")
    column = SORTS[key]
    descending = sort.startswith("-")
    direction = "DESC" if descending else "ASC"
    keyset = None
    if request.args.get("cursor"):
        try:
            keyset = read_cursor(request.args["cursor"], page)
        except (ValueError, TypeError, binascii_error):
            return problem(422, "Unprocessable Entity", "The cursor is not valid.")
    count_sql = f"SELECT count(*) FROM items{' WHERE ' + ' AND '.join(where) if where else ''}"
    capped = "q" in request.args  # the API counts a search up to COUNT_CAP + 1 rows
    if capped:
        count_sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM items WHERE {' AND '.join(where)}"
            f" LIMIT {COUNT_CAP + 1}) s"
        )
    page_params = list(params)
    if keyset is not None:
        where.append(f"({column}, items.id) {'<' if descending else '>'} (%s, %s)")
        value = datetime.fromisoformat(keyset[0]) if key != "name" else keyset[0]
        page_params += [value, keyset[1]]
    where_sql = f" WHERE {' AND '.join(where)}" if where else ""
    order_sql = f" ORDER BY {column} {direction}, items.id {direction}"
    offset_sql = " OFFSET %s" if keyset is None else ""
    page_params.append(per_page)
    if keyset is None:
        page_params.append((page - 1) * per_page)
    rows: list[tuple[Any, ...]] = []
    with pool.connection() as conn:
        total_row = conn.execute(count_sql, params).fetchone()
        total = int(total_row[0]) if total_row else 0
        lower_bound = capped and total > COUNT_CAP
        total = min(total, COUNT_CAP) if capped else total
        if (page - 1) * per_page < total or lower_bound:
            rows = conn.execute(
                f"SELECT {ITEM_COLUMNS}, {column} FROM items "
                f"JOIN users ON users.id = items.user_id{where_sql}{order_sql}"
                f" LIMIT %s{offset_sql}",
                page_params,
            ).fetchall()
    next_cursor = None
    if rows and len(rows) == per_page:
        next_cursor = make_cursor(page + 1, rows[-1][-1], rows[-1][0])
    response = json_response([item_dict(row[:-1]) for row in rows])
    response.headers["X-Total-Count"] = str(total)
    if lower_bound:
        response.headers["X-Total-Count-Lower-Bound"] = "true"
    more = lower_bound and len(rows) == per_page
    response.headers["Link"] = page_links(page, per_page, total, next_cursor, more)
    return response
