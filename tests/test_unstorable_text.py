"""Text that cannot be stored (a lone UTF-16 surrogate, NUL) is a 422 naming the field on
every endpoint, never a 500 (API.md, General rules)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support import PASSWORD, assert_problem

SURROGATE = "\ud800"
NUL = "bad\x00text"


def body(data: dict[str, Any]) -> bytes:
    # json.dumps escapes the surrogate as \ud800, exactly what a client would send.
    return json.dumps(data).encode()


def assert_field_422(response: Any, location: str, field: str) -> None:
    assert field in assert_problem(response, 422)["errors"][location]


@pytest.mark.parametrize("text", [SURROGATE, NUL])
@pytest.mark.parametrize("field", ["username", "password"])
def test_login_with_unstorable_text_is_422(client, user, text, field):
    credentials = {"username": user.username, "password": PASSWORD, field: text}

    response = client.post("/auth/token", data=body(credentials), content_type="application/json")

    assert_field_422(response, "json", field)


@pytest.mark.parametrize("text", [SURROGATE, NUL])
@pytest.mark.parametrize("field", ["username", "email", "password"])
def test_registration_with_unstorable_text_is_422_and_creates_nothing(client, text, field):
    data = {"username": "newbie", "email": "newbie@example.com", "password": "long-enough-1"}
    data[field] = text

    response = client.post("/api/users", data=body(data), content_type="application/json")

    assert_field_422(response, "json", field)
    assert client.get("/api/users").headers["X-Total-Count"] == "0"


@pytest.mark.parametrize("field", ["name", "description", "category"])
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_item_writes_with_a_surrogate_are_422(client, auth_headers, method, field):
    created = client.post("/api/items", json={"name": "Lamp"}, headers=auth_headers)
    url = "/api/items" if method == "post" else f"/api/items/{created.get_json()['id']}"
    data = {"name": "Lamp", field: f"x{SURROGATE}"}

    response = getattr(client, method)(
        url, data=body(data), content_type="application/json", headers=auth_headers
    )

    assert_field_422(response, "json", field)
    assert client.get(f"/api/items/{created.get_json()['id']}").get_json()["name"] == "Lamp"


@pytest.mark.parametrize("field", ["current_password", "password", "username", "email"])
def test_user_update_with_a_surrogate_is_422(client, user, auth_headers, field):
    data = {"password": "another-long-1", "current_password": PASSWORD, field: SURROGATE}

    response = client.patch(
        f"/api/users/{user.id}",
        data=body(data),
        content_type="application/json",
        headers=auth_headers,
    )

    assert_field_422(response, "json", field)


def test_unknown_field_named_with_a_surrogate_is_422(client):
    response = client.post(
        "/auth/token",
        data=body({SURROGATE: "x", "username": "a", "password": "b"}),
        content_type="application/json",
    )

    assert_problem(response, 422)


@pytest.mark.parametrize("param", ["q", "category", "sort", "cursor"])
def test_query_parameter_with_nul_is_422(client, param):
    response = client.get("/api/items", query_string={param: NUL})

    assert_field_422(response, "query", param)


def test_cursor_that_decodes_to_a_surrogate_is_422(client, auth_headers):
    for name in ("a", "b", "c"):
        client.post("/api/items", json={"name": name}, headers=auth_headers)
    cursor = base64.b64encode(json.dumps([2, SURROGATE, 1]).encode()).decode()

    response = client.get(f"/api/items?page=2&per_page=1&sort=name&cursor={cursor}")

    assert_field_422(response, "query", "cursor")


def test_the_reported_cursor_is_422(client, auth_headers):
    client.post("/api/items", json={"name": "a"}, headers=auth_headers)

    response = client.get("/api/items?page=2&per_page=1&sort=name&cursor=WzIsIlx1ZDgwMCIsMV0=")

    assert_field_422(response, "query", "cursor")


def test_idempotency_key_with_a_surrogate_is_422(client, auth_headers):
    headers = {**auth_headers, "Idempotency-Key": "key-\udc80"}

    response = client.post("/api/items", json={"name": "Lamp"}, headers=headers)

    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]["headers"]
