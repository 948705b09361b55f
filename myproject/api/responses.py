"""JSON answers built from each resource's declared ``serialize`` (``myproject.models``): the
one definition of each wire shape.

The schemas in ``@blp.response`` document these bodies; views return finished responses, so
flask-smorest never dumps a second copy (tests hold the schemas equal to ``to_dict``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, url_for

from myproject.models import User
from myproject.models.item import ITEMS
from myproject.models.resource import Resource, resource_of
from myproject.models.user import USERS


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = current_app.json.dumps(data) + "\n"  # as Flask's own JSON answers end
    return current_app.response_class(
        body, status=status, headers=headers, mimetype="application/json"
    )


def etag_of(body: bytes) -> str:
    """A strong ETag: changes whenever any byte of the representation changes."""
    return hashlib.sha256(body).hexdigest()[:32]


def body_of(resource: Resource, row: Any) -> bytes:
    """The JSON of a row of ``resource`` (a model or a row of its columns), exactly as sent."""
    return (current_app.json.dumps(resource.serialize(row)) + "\n").encode()


def representation(
    resource: Resource, row: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The row's full representation, with its ETag when the resource declares ``etag``; a
    ``private`` one is never stored by a cache on the way (``Cache-Control: no-store``)."""
    body = body_of(resource, row)
    response = current_app.response_class(body, status=status, mimetype="application/json")
    if resource.etag:
        response.headers["ETag"] = f'"{etag_of(body)}"'
    response.headers.update(headers or {})
    if resource.private:
        response.headers["Cache-Control"] = "no-store"
    return response


def item_body(item: Any) -> bytes:
    """The JSON of an ``Item`` (or an item row), exactly as it is sent."""
    return body_of(ITEMS, item)


def item_response(item: Any, status: int = 200, **headers: str) -> Response:
    """An item answer with its ETag."""
    return representation(ITEMS, item, status, headers)


def user_response(
    user: User, *, private: bool, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The user's public or private representation."""
    if private:
        return representation(USERS, user, status, headers)
    return json_response(user.to_dict(), status, headers)


def created_response(created: Any) -> Response:
    """The 201 answer for a new row of a declared resource, with its ``Location``: also what
    an idempotent retry replays."""
    resource = resource_of(created.__tablename__)
    if resource is None or resource.view is None or resource.id_arg is None:
        raise TypeError(f"{type(created).__name__} is not a resource with URLs of its own")
    location = url_for(resource.view, _external=True, **{resource.id_arg: created.id})
    return representation(resource, created, 201, {"Location": location})
