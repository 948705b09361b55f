"""JSON answers built from the models' ``to_dict()``: the one definition of each wire shape.

The schemas in ``@blp.response`` document these bodies; views return finished responses, so
flask-smorest never dumps a second copy (tests hold the schemas equal to ``to_dict``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, url_for

from myproject.models import Item, User
from myproject.models.item import item_dict


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = current_app.json.dumps(data) + "\n"  # as Flask's own JSON answers end
    return current_app.response_class(
        body, status=status, headers=headers, mimetype="application/json"
    )


def item_body(item: Any) -> bytes:
    """The JSON of an ``Item`` (or an item row), exactly as it is sent."""
    return (current_app.json.dumps(item_dict(item)) + "\n").encode()


def etag_of(body: bytes) -> str:
    """A strong ETag: changes whenever any byte of the representation changes."""
    return hashlib.sha256(body).hexdigest()[:32]


def item_response(item: Any, status: int = 200, **headers: str) -> Response:
    """An item answer with its ETag."""
    body = item_body(item)
    response = current_app.response_class(body, status=status, mimetype="application/json")
    response.headers.update({"ETag": f'"{etag_of(body)}"', **headers})
    return response


def user_response(
    user: User, *, private: bool, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The user's public or private representation; a private one is never stored by a cache
    on the way (``Cache-Control: no-store``)."""
    response = json_response(user.to_dict(private=private), status, headers)
    if private:
        response.headers["Cache-Control"] = "no-store"
    return response


def created_response(created: Item | User) -> Response:
    """The 201 answer for a new item or user: also what an idempotent retry replays."""
    if isinstance(created, Item):
        location = url_for("items.ItemById", item_id=created.id, _external=True)
        return item_response(created, 201, Location=location)
    location = url_for("users.UserById", user_id=created.id, _external=True)
    return user_response(created, private=True, status=201, headers={"Location": location})
