"""PUT, PATCH and DELETE /api/items/<id>; who may write (401/403, admins); If-Match (412)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support import (
    ISO_UTC,
    LONG_AGO,
    NEW_ITEM,
    assert_problem,
    bearer,
    item_count,
    snapshot,
    write,
)

WRITE_STATUS = {"PUT": 200, "PATCH": 200, "DELETE": 204}


# --- PUT /api/items/<id> ------------------------------------------------------------------


def test_put_replaces_the_item_and_nulls_omitted_fields(client, item, auth_headers, session):
    response = client.put(f"/api/items/{item.id}", json={"name": "Shelf"}, headers=auth_headers)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["description"], body["category"]) == ("Shelf", None, None)
    stored = snapshot(session, item.id)
    assert stored is not None
    assert (stored["name"], stored["description"], stored["category"]) == ("Shelf", None, None)


def test_put_answers_the_etag_of_the_new_version(client, item, auth_headers):
    response = client.put(f"/api/items/{item.id}", json=NEW_ITEM, headers=auth_headers)

    assert response.status_code == 200
    assert client.get(f"/api/items/{item.id}").headers["ETag"] == response.headers["ETag"]


def test_put_without_name_gets_422_and_changes_nothing(client, item, auth_headers, session):
    before = snapshot(session, item.id)

    response = client.put(f"/api/items/{item.id}", json={"description": "x"}, headers=auth_headers)

    body = assert_problem(response, 422)
    assert "name" in body["errors"]["json"]
    assert snapshot(session, item.id) == before


# --- PATCH /api/items/<id> ----------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(client, item, auth_headers, session):
    response = client.patch(
        f"/api/items/{item.id}", json={"category": "office"}, headers=auth_headers
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["description"], body["category"]) == (
        "Lamp",
        "A desk lamp",
        "office",
    )
    assert snapshot(session, item.id) == body


def test_patch_may_clear_the_description(client, item, auth_headers):
    response = client.patch(
        f"/api/items/{item.id}", json={"description": None}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.get_json()["description"] is None
    assert response.get_json()["category"] == "lighting"


def test_patch_moves_updated_at_and_keeps_created_at(client, item, auth_headers):
    response = client.patch(f"/api/items/{item.id}", json={"name": "Renamed"}, headers=auth_headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["created_at"] == "2020-01-01T00:00:00+00:00"
    assert ISO_UTC.match(body["updated_at"])
    assert datetime.fromisoformat(body["updated_at"]) > LONG_AGO + timedelta(days=1)


def test_patch_answers_the_etag_of_the_new_version(client, item, auth_headers):
    old = client.get(f"/api/items/{item.id}").headers["ETag"]

    response = client.patch(f"/api/items/{item.id}", json={"name": "Renamed"}, headers=auth_headers)

    assert response.status_code == 200
    assert response.headers["ETag"] != old
    assert client.get(f"/api/items/{item.id}").headers["ETag"] == response.headers["ETag"]


# --- DELETE /api/items/<id> ---------------------------------------------------------------


def test_delete_answers_204_with_an_empty_body(client, item, auth_headers, session):
    response = client.delete(f"/api/items/{item.id}", headers=auth_headers)

    assert response.status_code == 204
    assert response.data == b""
    assert snapshot(session, item.id) is None


def test_deleted_item_is_gone_for_readers(client, item, auth_headers):
    assert client.get(f"/api/items/{item.id}").status_code == 200  # now cached
    client.delete(f"/api/items/{item.id}", headers=auth_headers)

    response = client.get(f"/api/items/{item.id}")

    assert_problem(response, 404)


# --- who may write ------------------------------------------------------------------------


def credentials(kind: str, auth: Any, username: str) -> dict[str, str]:
    if kind == "missing":
        return {}
    if kind == "not-a-jwt":
        return bearer("not-a-jwt")
    if kind == "basic-scheme":
        return {"Authorization": "Basic YWxpY2U6Y29ycmVjdC1ob3JzZS00Mg=="}
    tokens = auth.login(username)
    if kind == "refresh-token":
        return bearer(tokens["refresh_token"])
    if kind == "tampered":
        token = tokens["access_token"]
        flipped = "A" if token[-5] != "A" else "B"
        return bearer(token[:-5] + flipped + token[-4:])
    assert kind == "logged-out"
    assert (
        auth.client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    )
    return bearer(tokens["access_token"])


BAD_CREDENTIALS = [
    "missing",
    "not-a-jwt",
    "basic-scheme",
    "refresh-token",
    "tampered",
    "logged-out",
]


@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
def test_create_without_a_valid_access_token_gets_401(client, auth, user, session, kind):
    headers = credentials(kind, auth, user.username)

    response = client.post("/api/items", json=NEW_ITEM, headers=headers)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert item_count(session) == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
def test_write_without_a_valid_access_token_gets_401(
    client, auth, user, item, session, method, kind
):
    headers = credentials(kind, auth, user.username)
    before = snapshot(session, item.id)

    response = write(client, method, item.id, headers)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert snapshot(session, item.id) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_write_to_another_users_item_gets_403(client, item, other_headers, session, method):
    before = snapshot(session, item.id)

    response = write(client, method, item.id, other_headers)

    assert_problem(response, 403)
    assert snapshot(session, item.id) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_admin_may_change_anyones_item(client, item, admin_headers, session, user, method):
    response = write(client, method, item.id, admin_headers)

    assert response.status_code == 200
    assert response.get_json()["name"] == "Renamed"
    assert response.get_json()["owner"]["id"] == user.id
    assert snapshot(session, item.id)["name"] == "Renamed"


def test_admin_may_delete_anyones_item(client, item, admin_headers, session):
    response = client.delete(f"/api/items/{item.id}", headers=admin_headers)

    assert response.status_code == 204
    assert snapshot(session, item.id) is None


# --- If-Match -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_write_with_a_stale_if_match_gets_412_and_changes_nothing(
    client, item, auth_headers, session, method
):
    stale = client.get(f"/api/items/{item.id}").headers["ETag"]
    client.patch(f"/api/items/{item.id}", json={"category": "office"}, headers=auth_headers)
    before = snapshot(session, item.id)

    response = write(client, method, item.id, {**auth_headers, "If-Match": stale})

    assert_problem(response, 412)
    assert snapshot(session, item.id) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_write_with_a_weak_if_match_gets_412(client, item, auth_headers, session, method):
    # RFC 9110 13.1.1: If-Match uses the strong comparison, so a weak tag never matches.
    current = client.get(f"/api/items/{item.id}").headers["ETag"]

    response = write(client, method, item.id, {**auth_headers, "If-Match": f"W/{current}"})

    assert_problem(response, 412)
    assert snapshot(session, item.id)["name"] == "Lamp"


@pytest.mark.parametrize("condition", ["current", "star", "list"])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_write_with_a_matching_if_match_is_applied(
    client, item, auth_headers, session, method, condition
):
    current = client.get(f"/api/items/{item.id}").headers["ETag"]
    if_match = {"current": current, "star": "*", "list": f'"not-it", {current}'}[condition]

    response = write(client, method, item.id, {**auth_headers, "If-Match": if_match})

    assert response.status_code == WRITE_STATUS[method]
    stored = snapshot(session, item.id)
    assert stored is None if method == "DELETE" else stored["name"] == "Renamed"
