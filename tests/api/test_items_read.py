"""GET /api/items/<id>: the representation, its ETag and conditional GETs (304)."""

from __future__ import annotations

import re

from tests.support import NEW_ITEM

# --- GET /api/items/<id> ------------------------------------------------------------------


def test_get_item_answers_its_representation_and_etag(client, item, user):
    response = client.get(f"/api/items/{item.id}")

    assert response.status_code == 200
    assert response.get_json() == {
        "id": item.id,
        "name": "Lamp",
        "description": "A desk lamp",
        "category": "lighting",
        "owner": {"id": user.id, "username": "alice"},
        "created_at": "2020-01-01T00:00:00+00:00",
        "updated_at": "2020-01-01T00:00:00+00:00",
    }
    assert re.fullmatch(r'"[^"]+"', response.headers["ETag"])


def test_get_item_with_the_current_etag_answers_304(client, item):
    etag = client.get(f"/api/items/{item.id}").headers["ETag"]

    response = client.get(f"/api/items/{item.id}", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag


def test_get_item_with_the_etag_from_create_answers_304(client, auth_headers):
    created = client.post("/api/items", json=NEW_ITEM, headers=auth_headers)
    etag = created.headers["ETag"]

    response = client.get(f"/api/items/{created.get_json()['id']}", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""


def test_get_item_with_an_old_etag_answers_200(client, item, auth_headers):
    old = client.get(f"/api/items/{item.id}").headers["ETag"]
    client.patch(f"/api/items/{item.id}", json={"name": "Renamed"}, headers=auth_headers)

    response = client.get(f"/api/items/{item.id}", headers={"If-None-Match": old})

    assert response.status_code == 200
    assert response.get_json()["name"] == "Renamed"
    assert response.headers["ETag"] != old


def test_get_item_after_a_write_never_answers_stale_data(client, item, auth_headers):
    assert client.get(f"/api/items/{item.id}").get_json()["name"] == "Lamp"  # now cached
    client.patch(f"/api/items/{item.id}", json={"name": "Renamed"}, headers=auth_headers)

    response = client.get(f"/api/items/{item.id}")

    assert response.status_code == 200
    assert response.get_json()["name"] == "Renamed"
