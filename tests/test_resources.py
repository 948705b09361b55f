"""Resources are declared once (``myproject.models.resource``) and the generic machinery reads
the declarations; the domain never imports the HTTP layer (docs/resources.md)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from myproject import events
from myproject.models import Item
from myproject.models.item import ITEMS
from myproject.models.resource import resource_of, resources
from myproject.models.user import USERS

PACKAGE = Path(__file__).resolve().parent.parent / "myproject"
DOMAIN = [
    "caching.py",
    "idempotency.py",
    "events.py",
    *sorted(str(path.relative_to(PACKAGE)) for path in (PACKAGE / "models").glob("*.py")),
]
HTTP = (
    "myproject.api",
    "myproject.errors",
    "myproject.hooks",
    "myproject.openapi",
    "myproject.auth.routes",
    "myproject.auth.password_reset",
)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(modules imported, names imported from flask)."""
    modules, from_flask = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
            if node.module == "flask":
                from_flask.update(alias.name for alias in node.names)
    return modules, from_flask


@pytest.mark.parametrize("name", DOMAIN)
def test_the_domain_never_imports_the_http_layer_nor_reads_g(name):
    modules, from_flask = _imports(PACKAGE / name)

    assert not {m for m in modules if m.startswith(HTTP)}, name
    assert "g" not in from_flask and "request" not in from_flask, name


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
