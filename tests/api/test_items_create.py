"""POST /api/items: what a created item looks like and what is stored.

Invalid bodies are in test_items_validation.py, missing credentials in test_items_write.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest

from tests.support import ISO_UTC, NEW_ITEM, item_count, snapshot

ITEM_KEYS = {"id", "name", "description", "category", "owner", "created_at", "updated_at"}


# --- POST /api/items ----------------------------------------------------------------------


def test_create_item_answers_201_with_the_caller_as_owner(client, auth_headers, user):
    response = client.post("/api/items", json=NEW_ITEM, headers=auth_headers)

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == ITEM_KEYS
    assert isinstance(body["id"], int)
    assert {k: body[k] for k in NEW_ITEM} == NEW_ITEM
    assert body["owner"] == {"id": user.id, "username": "alice"}


def test_create_item_stores_it(client, auth_headers, session, user):
    response = client.post("/api/items", json=NEW_ITEM, headers=auth_headers)

    assert response.status_code == 201
    assert item_count(session) == 1
    stored = snapshot(session, response.get_json()["id"])
    assert stored is not None
    assert stored["owner"]["id"] == user.id
    assert stored["name"] == "Lamp"


def test_create_item_location_points_at_the_new_item(client, auth_headers):
    created = client.post("/api/items", json=NEW_ITEM, headers=auth_headers)

    assert created.status_code == 201
    path = urlparse(created.headers["Location"]).path
    assert path == f"/api/items/{created.get_json()['id']}"
    followed = client.get(path)
    assert followed.status_code == 200
    assert followed.get_json() == created.get_json()


def test_create_item_etag_is_the_etag_of_the_stored_item(client, auth_headers):
    created = client.post("/api/items", json=NEW_ITEM, headers=auth_headers)

    assert created.status_code == 201
    etag = created.headers["ETag"]
    assert re.fullmatch(r'"[^"]+"', etag)
    assert client.get(f"/api/items/{created.get_json()['id']}").headers["ETag"] == etag


def test_create_item_without_optional_fields_stores_nulls(client, auth_headers):
    response = client.post("/api/items", json={"name": "Lamp"}, headers=auth_headers)

    assert response.status_code == 201
    assert response.get_json()["description"] is None
    assert response.get_json()["category"] is None


def test_create_item_trims_the_name(client, auth_headers):
    response = client.post("/api/items", json={"name": "  Lamp \n"}, headers=auth_headers)

    assert response.status_code == 201
    assert response.get_json()["name"] == "Lamp"


def test_create_item_timestamps_are_iso8601_utc_with_offset(client, auth_headers):
    response = client.post("/api/items", json=NEW_ITEM, headers=auth_headers)

    assert response.status_code == 201
    for field in ("created_at", "updated_at"):
        value = response.get_json()[field]
        assert ISO_UTC.match(value), value
        assert abs(datetime.fromisoformat(value) - datetime.now(UTC)) < timedelta(minutes=1)


def test_create_item_accepts_json_with_a_charset(client, auth_headers):
    response = client.post(
        "/api/items",
        data='{"name": "Lamp"}',
        content_type="application/json; charset=utf-8",
        headers=auth_headers,
    )

    assert response.status_code == 201
    assert response.get_json()["name"] == "Lamp"


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "n" * 100},
        {"name": "ü" * 100},
        {"name": "😀" * 100},
        {"name": "Lamp", "description": "d" * 5000},
        {"name": "Lamp", "category": "c" * 50},
        {"name": "Lamp", "description": None, "category": None},
    ],
    ids=[
        "name-100",
        "name-100-umlauts",
        "name-100-emoji",
        "description-5000",
        "category-50",
        "explicit-nulls",
    ],
)
def test_create_item_accepts_values_at_the_limits(client, auth_headers, fields):
    response = client.post("/api/items", json=fields, headers=auth_headers)

    assert response.status_code == 201
    body = response.get_json()
    assert {k: body[k] for k in fields} == fields
