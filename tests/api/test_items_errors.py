"""Answers common to every item route: 404s, problem bodies, request ids, nosniff, 405."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import NEW_ITEM, PROBLEM_KEYS, SANE_REQUEST_ID, assert_problem, write

# --- missing items ------------------------------------------------------------------------


MISSING_IDS = ["2147483647", "0", "abc", "-1", "1.5", "99999999999999999999"]


@pytest.mark.parametrize("item_id", MISSING_IDS)
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_missing_or_malformed_item_id_gets_404(client, auth_headers, method, item_id):
    if method == "GET":
        response = client.get(f"/api/items/{item_id}")
    else:
        response = write(client, method, item_id, auth_headers)

    assert_problem(response, 404)


def test_missing_item_problem_names_the_item(client):
    response = client.get("/api/items/2147483647")

    body = assert_problem(response, 404)
    assert body["instance"] == "/api/items/2147483647"
    assert "2147483647" in body["detail"]


# --- headers common to every answer -------------------------------------------------------


@pytest.mark.parametrize("request_id", ["abc-123_X.y", "r" * 128])
@pytest.mark.parametrize("path", ["/api/items", "/api/items/2147483647"])
def test_sane_request_id_is_echoed(client, db, path, request_id):
    response = client.get(path, headers={"X-Request-ID": request_id})

    assert response.status_code in (200, 404)
    assert response.headers["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id", ["has spaces", "r" * 129, "a/b", "<script>", "ünï"], ids=repr
)
def test_insane_request_id_is_replaced(client, db, request_id):
    response = client.get("/api/items", headers={"X-Request-ID": request_id})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != request_id
    assert SANE_REQUEST_ID.match(response.headers["X-Request-ID"])


def test_request_id_is_generated_when_absent(client, db):
    first = client.get("/api/items")
    second = client.get("/api/items")

    assert first.status_code == 200
    assert SANE_REQUEST_ID.match(first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_every_kind_of_item_answer_carries_nosniff(client, item, auth_headers):
    responses = [
        client.get("/api/items"),
        client.get(f"/api/items/{item.id}"),
        client.post("/api/items", json=NEW_ITEM, headers=auth_headers),
        client.get("/api/items/2147483647"),
        client.delete(f"/api/items/{item.id}", headers=auth_headers),
    ]

    assert [r.status_code for r in responses] == [200, 200, 201, 404, 204]
    assert all(r.headers["X-Content-Type-Options"] == "nosniff" for r in responses)


# status -> (method, path, caller, request arguments): one way to provoke each error.
ERROR_REQUESTS: dict[int, tuple[str, str, str, dict[str, Any]]] = {
    400: ("POST", "/api/items", "owner", {"data": "{", "content_type": "application/json"}),
    401: ("POST", "/api/items", "nobody", {"json": NEW_ITEM}),
    403: ("DELETE", "/api/items/{id}", "stranger", {}),
    404: ("GET", "/api/items/2147483647", "nobody", {}),
    405: ("DELETE", "/api/items", "owner", {}),
    412: ("DELETE", "/api/items/{id}", "owner", {"headers": {"If-Match": '"stale"'}}),
    415: ("POST", "/api/items", "owner", {"data": "name=x", "content_type": "text/plain"}),
    422: ("POST", "/api/items", "owner", {"json": {"name": ""}}),
}


@pytest.mark.parametrize("status", sorted(ERROR_REQUESTS))
def test_error_bodies_are_problem_json_with_the_request_id(
    client, item, auth_headers, other_headers, status
):
    method, path, caller, arguments = ERROR_REQUESTS[status]
    credentials = {"nobody": {}, "owner": auth_headers, "stranger": other_headers}[caller]
    headers = {**credentials, "X-Request-ID": "trace-42", **arguments.get("headers", {})}
    extra = {k: v for k, v in arguments.items() if k != "headers"}

    response = client.open(path.format(id=item.id), method=method, headers=headers, **extra)

    body = assert_problem(response, status)
    assert set(body) == PROBLEM_KEYS | ({"errors"} if status == 422 else set())
    assert body["request_id"] == response.headers["X-Request-ID"] == "trace-42"
    assert body["instance"] == path.format(id=item.id)
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_method_not_allowed_lists_the_allowed_methods(client, auth_headers):
    response = client.delete("/api/items", headers=auth_headers)

    assert_problem(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
