"""Resources are declared once (``myproject.models.resource``) and the generic machinery reads
the declarations (docs/resources.md). The layering rule is tests/test_layers.py's."""

from __future__ import annotations

from typing import Any

from myproject import events
from myproject.models import Item
from myproject.models.item import ITEMS
from myproject.models.resource import resource_of, resources
from myproject.models.user import USERS


def test_items_and_users_are_declared_once_by_table():
    assert resource_of("items") is ITEMS
    assert resource_of("users") is USERS
    assert resource_of("idempotency_keys") is None
    assert {"items", "users"} <= {resource.table for resource in resources()}


def test_problem_details_come_from_the_declarations(client, auth_headers):
    missing = client.get("/api/items/987654").get_json()
    missing_user = client.get("/api/users/987654").get_json()

    assert missing["detail"] == ITEMS.not_found(987654) == "Item 987654 does not exist."
    assert missing_user["detail"] == USERS.not_found(987654) == "User 987654 does not exist."


def test_a_created_row_answers_its_declared_representation(client, auth_headers):
    response = client.post("/api/items", json={"name": "Kettle"}, headers=auth_headers)

    body = response.get_json()
    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/api/items/{body['id']}")
    assert client.get(response.headers["Location"]).get_json() == body


def test_capture_keeps_every_capturer_of_a_table(app, session, user, monkeypatch):
    registered = {table: list(found) for table, found in app.extensions[events.CAPTURERS].items()}
    monkeypatch.setitem(app.extensions, events.CAPTURERS, registered)

    def name_of(item: Any) -> str:
        return f"named {item.name}"

    events.capture(app, "items", name_of)
    events.capture(app, "items", name_of)  # the same capturer once
    Item.create(user=user, name="Kettle", commit=False)

    (change,) = [c for c in events.changes(session) if c.table == "items"]
    assert change.snapshot(name_of) == "named Kettle"
    assert change.snapshot(ITEMS.serialize)["name"] == "Kettle"
    assert registered["items"].count(name_of) == 1
