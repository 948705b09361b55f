"""What the code's structure promises: one wire shape per resource, one commit per write,
after-commit work that never follows a rollback, decorators that document what they enforce."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from myproject import events
from myproject.models import Item
from myproject.schemas.item import ItemSchema
from myproject.schemas.user import UserPublicSchema, UserSchema
from tests.support import PASSWORD

BODY_STATUSES = {"400", "413", "415", "422"}


@pytest.fixture()
def bare_item(make_item: Any, user: Any) -> Item:
    return make_item(user, description=None, category=None)


@pytest.fixture()
def recorded(app: Any, monkeypatch: Any) -> list[events.Change]:
    """Every change handed to after-commit subscribers during the test."""
    seen: list[events.Change] = []
    subscribers = [*app.extensions.get(events.SUBSCRIBERS, []), seen.extend]
    monkeypatch.setitem(app.extensions, events.SUBSCRIBERS, subscribers)
    return seen


@pytest.fixture()
def commits(db: Any) -> list[int]:
    """One entry per session commit during the test."""
    counted: list[int] = []

    def count(_session: Session) -> None:
        counted.append(1)

    event.listen(Session, "after_commit", count)
    yield counted
    event.remove(Session, "after_commit", count)


def test_item_schema_documents_exactly_what_to_dict_sends(item, bare_item):
    assert ItemSchema().dump(item) == item.to_dict()
    assert ItemSchema().dump(bare_item) == bare_item.to_dict()


def test_user_schemas_document_exactly_what_to_dict_sends(user):
    assert UserPublicSchema().dump(user) == user.to_dict()
    assert UserSchema().dump(user) == user.to_dict(private=True)


def test_item_read_sends_to_dict(client, item):
    response = client.get(f"/api/items/{item.id}")

    assert response.status_code == 200
    assert response.get_json() == item.to_dict()


def test_item_list_sends_to_dict(client, item):
    response = client.get("/api/items")

    assert response.status_code == 200
    assert response.get_json() == [item.to_dict()]


def test_user_reads_send_to_dict(client, user, auth_headers):
    public = client.get(f"/api/users/{user.id}")
    private = client.get(f"/api/users/{user.id}", headers=auth_headers)

    assert public.status_code == private.status_code == 200
    assert public.get_json() == user.to_dict()
    assert private.get_json() == user.to_dict(private=True)


def test_committed_write_reaches_after_commit_subscribers(client, auth_headers, recorded):
    response = client.post("/api/items", json={"name": "Kettle"}, headers=auth_headers)

    assert response.status_code == 201
    assert events.Change("created", "items", response.get_json()["id"]) in recorded


def test_rolled_back_change_reaches_no_subscriber(session, user, recorded):
    ran: list[str] = []
    user.username = "renamed"
    session.flush()
    events.on_commit(session, lambda: ran.append("callback"))
    session.rollback()
    session.commit()

    assert recorded == []
    assert ran == []


def test_on_commit_callback_runs_after_the_commit(session, user):
    ran: list[str] = []
    events.on_commit(session, lambda: ran.append("callback"))
    assert ran == []

    session.commit()

    assert ran == ["callback"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/items", {"name": "Kettle"}),
        ("put", "/api/items/{item}", {"name": "Kettle"}),
        ("patch", "/api/items/{item}", {"category": "kitchen"}),
        ("delete", "/api/items/{item}", None),
        ("patch", "/api/users/{user}", {"password": "n3w-passw0rd!", "current_password": None}),
        ("delete", "/api/users/{user}", None),
    ],
)
def test_every_write_commits_once(client, auth_headers, user, item, commits, method, path, body):
    if body and "current_password" in body:
        body["current_password"] = PASSWORD
    url = path.format(item=item.id, user=user.id)

    response = getattr(client, method)(url, json=body, headers=auth_headers)

    assert response.status_code in (200, 201, 204), response.get_json()
    assert len(commits) == 1


def test_registration_commits_once(client, commits):
    response = client.post(
        "/api/users",
        json={"username": "newbie", "email": "newbie@example.com", "password": "long-enough-1"},
    )

    assert response.status_code == 201
    assert len(commits) == 1


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_operation_with_a_token_documents_its_401(client):
    spec = client.get("/api/openapi.json").get_json()

    for name, operation in _operations(spec):
        if operation.get("security"):
            assert "401" in operation["responses"], name


def test_every_operation_with_a_body_documents_the_body_errors(client):
    spec = client.get("/api/openapi.json").get_json()

    for name, operation in _operations(spec):
        if "requestBody" in operation:
            assert BODY_STATUSES <= set(operation["responses"]), name


def test_ids_beyond_int4_are_404_not_500(client):
    for path in ("/api/items/2147483648", "/api/users/2147483648", "/api/users/9999999999/items"):
        response = client.get(path)
        assert response.status_code == 404, path
