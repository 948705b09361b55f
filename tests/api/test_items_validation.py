"""Item bodies the API refuses: 422 (invalid fields), 415 (not JSON), 400 (malformed), 413."""

from __future__ import annotations

import json

import pytest

from tests.support import assert_problem, item_count, snapshot, write

ONE_MIB = 1024 * 1024


# --- validation ---------------------------------------------------------------------------

INVALID_BODIES = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 101}, "name"),
    ({"name": "La\x00mp"}, "name"),
    ({"name": "La\x07mp"}, "name"),
    ({"name": None}, "name"),
    ({"name": 123}, "name"),
    ({"name": ["Lamp"]}, "name"),
    ({"name": True}, "name"),
    ({"name": "Lamp", "description": "d" * 5001}, "description"),
    ({"name": "Lamp", "description": 5}, "description"),
    ({"name": "Lamp", "description": "a\x00b"}, "description"),
    ({"name": "Lamp", "category": "c" * 51}, "category"),
    ({"name": "Lamp", "category": {"x": 1}}, "category"),
    ({"name": "Lamp", "category": "a\x00b"}, "category"),
    ({"name": "Lamp", "colour": "red"}, "colour"),
    ({"name": "Lamp", "id": 99}, "id"),
    ({"name": "Lamp", "owner": {"id": 1}}, "owner"),
    ({"name": "Lamp", "user_id": 1}, "user_id"),
    ({"name": "Lamp", "created_at": "2020-01-01T00:00:00+00:00"}, "created_at"),
    ({"name": "Lamp", "updated_at": "2020-01-01T00:00:00+00:00"}, "updated_at"),
]
INVALID_IDS = [
    "empty-name",
    "blank-name",
    "name-101",
    "nul-in-name",
    "control-char-in-name",
    "null-name",
    "int-name",
    "list-name",
    "bool-name",
    "description-5001",
    "int-description",
    "nul-in-description",
    "category-51",
    "object-category",
    "nul-in-category",
    "unknown-field",
    "read-only-id",
    "read-only-owner",
    "read-only-user_id",
    "read-only-created_at",
    "read-only-updated_at",
]


@pytest.mark.parametrize(("fields", "field"), INVALID_BODIES, ids=INVALID_IDS)
def test_create_with_an_invalid_body_gets_422_and_creates_nothing(
    client, auth_headers, session, fields, field
):
    response = client.post("/api/items", json=fields, headers=auth_headers)

    body = assert_problem(response, 422)
    assert set(body["errors"]["json"]) == {field}
    assert item_count(session) == 0


def test_create_without_a_name_gets_422(client, auth_headers, session):
    response = client.post("/api/items", json={"description": "x"}, headers=auth_headers)

    body = assert_problem(response, 422)
    assert set(body["errors"]["json"]) == {"name"}
    assert item_count(session) == 0


@pytest.mark.parametrize(("fields", "field"), INVALID_BODIES, ids=INVALID_IDS)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_write_with_an_invalid_body_gets_422_and_changes_nothing(
    client, item, auth_headers, session, method, fields, field
):
    before = snapshot(session, item.id)

    response = write(client, method, item.id, auth_headers, json=fields)

    body = assert_problem(response, 422)
    assert set(body["errors"]["json"]) == {field}
    assert snapshot(session, item.id) == before


@pytest.mark.parametrize("payload", [[], ["Lamp"], "Lamp", 42, None], ids=repr)
def test_create_with_a_body_that_is_not_an_object_gets_422(client, auth_headers, session, payload):
    response = client.post(
        "/api/items",
        data=json.dumps(payload),
        headers=auth_headers,
        content_type="application/json",
    )

    body = assert_problem(response, 422)
    assert "json" in body["errors"]
    assert item_count(session) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("name=Lamp", "application/x-www-form-urlencoded"),
        ('{"name": "Lamp"}', "text/plain"),
        ('{"name": "Lamp"}', "application/xml"),
    ],
    ids=["form", "text-plain", "xml"],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_body_that_is_not_json_gets_415(
    client, item, auth_headers, session, method, data, content_type
):
    before = snapshot(session, item.id)
    path = "/api/items" if method == "POST" else f"/api/items/{item.id}"

    response = client.open(
        path, method=method, data=data, content_type=content_type, headers=auth_headers
    )

    assert_problem(response, 415)
    assert item_count(session) == 1
    assert snapshot(session, item.id) == before


@pytest.mark.parametrize("data", ['{"name": "Lamp"', "{name: 'Lamp'}", "nope"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_malformed_json_gets_400(client, item, auth_headers, session, method, data):
    before = snapshot(session, item.id)
    path = "/api/items" if method == "POST" else f"/api/items/{item.id}"

    response = client.open(
        path, method=method, data=data, content_type="application/json", headers=auth_headers
    )

    assert_problem(response, 400)
    assert item_count(session) == 1
    assert snapshot(session, item.id) == before


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_body_over_max_content_length_gets_413(client, item, auth_headers, session, method):
    # Valid JSON whose description would otherwise get 422: the size check must answer first.
    data = '{"name": "Lamp", "description": "%s"}' % ("d" * ONE_MIB)
    path = "/api/items" if method == "POST" else f"/api/items/{item.id}"
    before = snapshot(session, item.id)

    response = client.open(
        path, method=method, data=data, content_type="application/json", headers=auth_headers
    )

    assert_problem(response, 413)
    assert item_count(session) == 1
    assert snapshot(session, item.id) == before
