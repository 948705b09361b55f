"""A write does each piece of request work once (issue 20): the token is decoded once although
the rate limiter reads it before the view verifies it, the body is parsed once although it is
checked before the view loads it, and the item is serialised once for the answer (plus once
for its real-time event snapshot; the version it replaces only when ``If-Match`` asks).

Counted through the public request path, with limits on, by wrapping what each piece of work
must call: the app's JWT decode-key callback, ``json.loads`` of the body, and the
``owner_username`` that every serialisation of an ``Item`` reads.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from myproject.auth.callbacks import decode_key
from myproject.extensions import jwt
from myproject.models import Item
from tests import test_ratelimit

# The limits-on app factory (each call also resets the shared limiter's state).
make_app = test_ratelimit.make_app


@pytest.fixture()
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    counted: Counter[str] = Counter()

    def counting_decode_key(header: dict[str, Any], claims: dict[str, Any]) -> str:
        counted["token decoded"] += 1
        return decode_key(header, claims)

    loads = json.loads

    def counting_loads(text: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(text, bytes | str) and b'"body-marker"' in _as_bytes(text):
            counted["body parsed"] += 1
        return loads(text, *args, **kwargs)

    username = Item.owner_username

    def counting_username(item: Item) -> str:
        counted["item serialised"] += 1
        return username.fget(item)  # type: ignore[no-any-return,union-attr]

    monkeypatch.setattr(json, "loads", counting_loads)
    monkeypatch.setattr(Item, "owner_username", property(counting_username))
    jwt.decode_key_loader(counting_decode_key)
    try:
        yield counted
    finally:
        jwt.decode_key_loader(decode_key)


def _as_bytes(text: bytes | str) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")


def test_item_patch_decodes_parses_and_serialises_once(make_app, item, auth_headers, work):
    client = make_app().test_client()
    body = {"name": "body-marker"}

    response = client.patch(f"/api/items/{item.id}", json=body, headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"]  # the limiter read the token too
    assert work == {"token decoded": 1, "body parsed": 1, "item serialised": 2}


def test_item_patch_with_if_match_also_serialises_the_replaced_version(
    make_app, item, auth_headers, work
):
    client = make_app().test_client()
    etag = client.get(f"/api/items/{item.id}").headers["ETag"]
    work.clear()

    response = client.patch(
        f"/api/items/{item.id}",
        json={"name": "body-marker"},
        headers={**auth_headers, "If-Match": etag},
    )

    assert response.status_code == 200
    assert work == {"token decoded": 1, "body parsed": 1, "item serialised": 3}


def test_user_patch_decodes_and_parses_once(make_app, user, auth_headers, work):
    client = make_app().test_client()

    response = client.patch(
        f"/api/users/{user.id}", json={"username": "body-marker"}, headers=auth_headers
    )

    assert response.status_code == 200
    assert work == {"token decoded": 1, "body parsed": 1}
