"""Items through the HTTP API: create, read, replace, update, delete, and their error answers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import g
from sqlalchemy import func, select

from myproject.models import IdempotencyKey, Item, User
from tests.support import bearer

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}
ITEM_KEYS = {"id", "name", "description", "category", "owner", "created_at", "updated_at"}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+00:00$")
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
NEW_ITEM = {"name": "Lamp", "description": "A desk lamp", "category": "lighting"}
WRITE_STATUS = {"PUT": 200, "PATCH": 200, "DELETE": 204}
ONE_MIB = 1024 * 1024


@pytest.fixture()
def make_item(session: Any) -> Any:
    def factory(owner: User, **fields: Any) -> Item:
        fields.setdefault("name", "Lamp")
        return Item.create(user=owner, **fields)

    return factory


@pytest.fixture()
def item(make_item: Any, user: User) -> Item:
    """Alice's item, created and last updated long ago."""
    return make_item(
        user,
        description="A desk lamp",
        category="lighting",
        created_at=LONG_AGO,
        updated_at=LONG_AGO,
    )


@pytest.fixture()
def other(make_user: Any) -> User:
    return make_user("bob", email="bob@example.com")


@pytest.fixture()
def other_headers(auth: Any, other: User) -> dict[str, str]:
    return auth.headers(other.username)


@pytest.fixture()
def admin_headers(auth: Any, admin: User) -> dict[str, str]:
    return auth.headers(admin.username)


def item_count(session: Any) -> int:
    session.expire_all()
    count: int = session.scalar(select(func.count()).select_from(Item))
    return count


def snapshot(session: Any, item_id: int) -> dict[str, Any] | None:
    """The item as the database holds it now, not the session's cached copy."""
    session.expire_all()
    found = session.get(Item, item_id)
    return None if found is None else found.to_dict()


def write(client: Any, method: str, item_id: int | str, headers: dict[str, str], **kw: Any) -> Any:
    """PUT/PATCH (with a valid body unless one is given) or DELETE an item."""
    if method != "DELETE":
        kw.setdefault("json", {"name": "Renamed"})
    return client.open(f"/api/items/{item_id}", method=method, headers=headers, **kw)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


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


# --- Idempotency-Key ----------------------------------------------------------------------


def post_with_key(client: Any, headers: dict[str, str], key: str, body: Any = None) -> Any:
    # The fixtures keep one app context open for the whole test, so flask.g (where the caller's
    # token claims are cached) would outlive a request; in production every request starts afresh.
    for name in list(g):
        g.pop(name)
    return client.post(
        "/api/items", json=body or NEW_ITEM, headers={**headers, "Idempotency-Key": key}
    )


def test_idempotent_retry_replays_the_first_answer(client, auth_headers, session):
    first = post_with_key(client, auth_headers, "retry-1")

    again = post_with_key(client, auth_headers, "retry-1")

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert item_count(session) == 1


def test_idempotent_retry_with_a_revoked_token_gets_401(client, auth_headers, session):
    assert post_with_key(client, auth_headers, "retry-1").status_code == 201
    assert client.post("/auth/logout", headers=auth_headers).status_code == 204

    again = post_with_key(client, auth_headers, "retry-1")

    assert again.status_code == 401
    assert item_count(session) == 1


def test_idempotency_key_with_another_body_gets_422(client, auth_headers, session):
    assert post_with_key(client, auth_headers, "retry-1").status_code == 201

    response = post_with_key(client, auth_headers, "retry-1", {"name": "Something else"})

    body = assert_problem(response, 422)
    assert "errors" in body
    assert item_count(session) == 1


def test_idempotent_retry_while_the_first_is_in_progress_gets_409(
    client, auth_headers, session, user
):
    assert post_with_key(client, auth_headers, "retry-1").status_code == 201
    record = session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == f"user:{user.id}"))
    record.update(status=None, body=None, headers=None)  # as if the first were still running

    response = post_with_key(client, auth_headers, "retry-1")

    assert_problem(response, 409)
    assert item_count(session) == 1


def test_idempotency_key_expires_after_24_hours(client, auth_headers, session, user):
    assert post_with_key(client, auth_headers, "retry-1").status_code == 201
    record = session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == f"user:{user.id}"))
    record.update(created_at=datetime.now(UTC) - timedelta(hours=25))

    response = post_with_key(client, auth_headers, "retry-1")

    assert response.status_code == 201
    assert item_count(session) == 2


def test_rejected_request_does_not_use_up_its_idempotency_key(client, auth_headers, session):
    assert post_with_key(client, auth_headers, "retry-1", {"name": "  "}).status_code == 422

    response = post_with_key(client, auth_headers, "retry-1")

    assert response.status_code == 201
    assert item_count(session) == 1


@pytest.mark.parametrize("key", ["", "k" * 256], ids=["empty", "256-chars"])
def test_invalid_idempotency_key_gets_422(client, auth_headers, session, key):
    response = post_with_key(client, auth_headers, key)

    body = assert_problem(response, 422)
    assert "Idempotency-Key" in body["errors"]["headers"]
    assert item_count(session) == 0


def test_idempotency_key_of_255_characters_is_accepted(client, auth_headers, session):
    first = post_with_key(client, auth_headers, "k" * 255)
    again = post_with_key(client, auth_headers, "k" * 255)

    assert first.status_code == 201
    assert again.get_json() == first.get_json()
    assert item_count(session) == 1


def test_same_idempotency_key_from_another_user_is_processed(
    client, auth_headers, other_headers, session, user, other
):
    mine = post_with_key(client, auth_headers, "retry-1")

    theirs = post_with_key(client, other_headers, "retry-1")

    assert mine.status_code == 201
    assert theirs.status_code == 201
    assert mine.get_json()["owner"]["id"] == user.id
    assert theirs.get_json()["owner"]["id"] == other.id
    assert item_count(session) == 2


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
