"""The Users rows of API.md: registration, profiles, self-service and admin updates, deletes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from myproject.models import Item, User
from tests.support import PASSWORD, post_login

PUBLIC_KEYS = {"id", "username", "created_at"}
PRIVATE_KEYS = PUBLIC_KEYS | {
    "email",
    "email_verified",
    "is_active",
    "is_admin",
    "is_premium",
    "updated_at",
}
NEW_PASSWORD = "brand-new-secret-99"


def registration(**overrides: Any) -> dict[str, Any]:
    body = {"username": "carol", "email": "carol@example.com", "password": "s3cret-pass-word"}
    body.update(overrides)
    return body


def email_of_length(length: int) -> str:
    """A well-formed address of exactly ``length`` characters (labels stay under 64)."""
    local, tld = "user@", ".com"
    remaining = length - len(local) - len(tld) - 1
    first = remaining // 2
    return f"{local}{'b' * first}.{'c' * (remaining - first)}{tld}"


def count_users(session: Any, username: str) -> int:
    stmt = select(func.count()).select_from(User).where(func.lower(User.username) == username)
    return int(session.scalar(stmt))


def login_status(client: Any, username: str, password: str) -> int:
    return int(post_login(client, username, password).status_code)


@pytest.fixture()
def headers_of(auth: Any, user: User, admin: User, make_user: Any) -> Any:
    """Authorization headers for a viewer role relative to ``user``."""

    def build(role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        if role == "self":
            return auth.headers(user.username)
        if role == "admin":
            return auth.headers(admin.username)
        return auth.headers(make_user().username)

    return build


# POST /api/users


def test_register_answers_201_with_private_representation_and_location(client):
    response = client.post("/api/users", json=registration())

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == PRIVATE_KEYS
    assert body["username"] == "carol"
    assert body["is_active"] is True
    assert body["is_admin"] is False
    assert response.headers["Location"].endswith(f"/api/users/{body['id']}")
    assert client.get(response.headers["Location"]).get_json()["id"] == body["id"]


def test_register_stores_email_lower_case(client, session):
    response = client.post("/api/users", json=registration(email="Carol@Example.COM"))

    assert response.status_code == 201
    assert response.get_json()["email"] == "carol@example.com"
    stored = session.get(User, response.get_json()["id"])
    assert stored.email == "carol@example.com"


def test_register_never_returns_or_stores_the_plain_password(client, session):
    response = client.post("/api/users", json=registration(password="plain-text-secret"))

    assert response.status_code == 201
    assert "plain-text-secret" not in response.get_data(as_text=True)
    assert "password" not in response.get_data(as_text=True)
    stored = session.get(User, response.get_json()["id"])
    assert stored.password_hash != "plain-text-secret"
    assert stored.check_password("plain-text-secret")


def test_register_two_different_users(client):
    first = client.post("/api/users", json=registration())
    second = client.post("/api/users", json=registration(username="dave", email="d@example.com"))

    assert first.status_code == 201
    assert second.status_code == 201, second.get_json()
    assert second.get_json()["id"] != first.get_json()["id"]


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("username", {"username": "alice"}),
        ("username", {"username": "ALICE"}),
        ("email", {"email": "alice@example.com"}),
        ("email", {"email": "Alice@Example.COM"}),
    ],
)
def test_register_with_taken_username_or_email_gets_409_naming_the_field(
    client, user, field, overrides
):
    response = client.post("/api/users", json=registration(**overrides))

    assert response.status_code == 409
    body = response.get_json()
    named = field in body["detail"] or field in body.get("errors", {}).get("json", {})
    assert named, body


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 81, "has space", "semi;colon", "slash/name", "at@sign", "émile", "", "  ab  "],
)
def test_register_rejects_bad_usernames(client, session, username):
    response = client.post("/api/users", json=registration(username=username))

    assert response.status_code == 422
    assert "username" in response.get_json()["errors"]["json"]
    assert session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize("username", ["abc", "a" * 80, "a.b_c-D9"])
def test_register_accepts_usernames_at_the_limits(client, username):
    response = client.post("/api/users", json=registration(username=username))

    assert response.status_code == 201
    assert response.get_json()["username"] == username


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", email_of_length(121), 7])
def test_register_rejects_bad_emails(client, email):
    response = client.post("/api/users", json=registration(email=email))

    assert response.status_code == 422
    assert "email" in response.get_json()["errors"]["json"]


def test_register_accepts_an_email_of_120_characters(client):
    email = email_of_length(120)

    response = client.post("/api/users", json=registration(email=email))

    assert response.status_code == 201
    assert response.get_json()["email"] == email


@pytest.mark.parametrize(("length", "status"), [(7, 422), (8, 201), (128, 201), (129, 422)])
def test_register_password_length_is_8_to_128(client, length, status):
    response = client.post("/api/users", json=registration(password="p" * length))

    assert response.status_code == status
    if status == 422:
        assert "password" in response.get_json()["errors"]["json"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 99),
        ("is_admin", True),
        ("is_active", False),
        ("is_premium", True),
        ("created_at", "2020-01-01T00:00:00+00:00"),
        ("updated_at", "2020-01-01T00:00:00+00:00"),
        ("role", "admin"),
    ],
)
def test_register_rejects_unknown_and_read_only_fields(client, session, field, value):
    response = client.post("/api/users", json=registration(**{field: value}))

    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    assert count_users(session, "carol") == 0


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_register_requires_every_field(client, missing):
    body = registration()
    del body[missing]

    response = client.post("/api/users", json=body)

    assert response.status_code == 422
    assert missing in response.get_json()["errors"]["json"]


# GET /api/users


def test_list_users_answers_public_representations_with_total(client, make_user):
    for _ in range(3):
        make_user()

    response = client.get("/api/users")

    assert response.status_code == 200
    body = response.get_json()
    assert len(body) == 3
    assert all(set(entry) == PUBLIC_KEYS for entry in body)
    assert response.headers["X-Total-Count"] == "3"


def test_list_users_pages_with_link_header(client, make_user):
    ids = [make_user().id for _ in range(3)]

    first = client.get("/api/users?per_page=2")
    second = client.get("/api/users?per_page=2&page=2")

    assert first.status_code == 200
    assert second.status_code == 200
    assert [u["id"] for u in first.get_json() + second.get_json()] == ids
    links = first.headers["Link"]
    assert 'rel="first"' in links and 'rel="last"' in links and 'rel="next"' in links
    assert 'rel="prev"' not in links
    assert "page=2" in links and "per_page=2" in links
    assert second.headers["X-Total-Count"] == "3"


def test_list_users_past_the_last_page_is_an_empty_page(client, make_user):
    make_user()

    response = client.get("/api/users?page=5")

    assert response.status_code == 200
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "1"
    assert 'rel="last"' in response.headers["Link"]


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page=abc", "per_page=0", "per_page=101", "per_page=x"]
)
def test_list_users_rejects_out_of_range_paging(client, query):
    response = client.get(f"/api/users?{query}")

    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["errors"]["query"]


# GET /api/users/<id>


@pytest.mark.parametrize(
    ("viewer", "keys"),
    [
        ("anonymous", PUBLIC_KEYS),
        ("other", PUBLIC_KEYS),
        ("self", PRIVATE_KEYS),
        ("admin", PRIVATE_KEYS),
    ],
)
def test_get_user_is_private_only_for_self_and_admin(client, user, headers_of, viewer, keys):
    response = client.get(f"/api/users/{user.id}", headers=headers_of(viewer))

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == keys
    assert body["id"] == user.id
    assert body["username"] == "alice"


@pytest.mark.parametrize(
    "path",
    [
        "/api/users/999999",
        "/api/users/abc",
        "/api/users/1.5",
        "/api/users/-1",
        "/api/users/2147483648",
    ],
)
def test_get_missing_or_non_integer_user_is_404(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.get_json()["instance"] == path


# GET /api/users/me and /api/protected


def test_me_answers_the_callers_private_representation(client, user, auth_headers):
    response = client.get("/api/users/me", headers=auth_headers)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == PRIVATE_KEYS
    assert body["id"] == user.id
    assert body["email"] == "alice@example.com"


@pytest.mark.parametrize("path", ["/api/users/me", "/api/protected"])
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic YTpi"}]
)
def test_token_routes_without_a_valid_token_get_401(client, path, headers):
    response = client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_protected_greets_the_caller(client, auth_headers):
    response = client.get("/api/protected", headers=auth_headers)

    assert response.status_code == 200
    assert response.get_json() == {"message": "Hello, alice!"}


# PATCH /api/users/<id>


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"username": "alice2"}, {"username": "alice2"}),
        (
            {"email": "New@Example.COM", "current_password": PASSWORD},
            {"email": "new@example.com", "email_verified": False},
        ),
        ({"username": "ALICE"}, {"username": "ALICE"}),
    ],
)
def test_patch_self_updates_username_and_email(client, user, auth_headers, changes, expected):
    response = client.patch(f"/api/users/{user.id}", json=changes, headers=auth_headers)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == PRIVATE_KEYS
    assert {key: body[key] for key in expected} == expected
    assert client.get("/api/users/me", headers=auth_headers).get_json()["id"] == user.id


def test_patch_own_password_with_current_password_swaps_logins(client, user, auth_headers):
    response = client.patch(
        f"/api/users/{user.id}",
        json={"password": NEW_PASSWORD, "current_password": PASSWORD},
        headers=auth_headers,
    )

    assert response.status_code == 200
    assert "password" not in response.get_data(as_text=True)
    assert login_status(client, "alice", PASSWORD) == 401
    assert login_status(client, "alice", NEW_PASSWORD) == 200


@pytest.mark.parametrize(
    "extra", [{}, {"current_password": "wrong-password-1"}, {"current_password": ""}]
)
def test_patch_own_password_needs_the_correct_current_password(client, user, auth_headers, extra):
    response = client.patch(
        f"/api/users/{user.id}", json={"password": NEW_PASSWORD, **extra}, headers=auth_headers
    )

    assert response.status_code == 422
    assert "current_password" in response.get_json()["errors"]["json"]
    assert login_status(client, "alice", PASSWORD) == 200
    assert login_status(client, "alice", NEW_PASSWORD) == 401


def test_admin_changes_a_password_without_current_password(client, user, admin_headers):
    response = client.patch(
        f"/api/users/{user.id}", json={"password": NEW_PASSWORD}, headers=admin_headers
    )

    assert response.status_code == 200
    assert login_status(client, "alice", PASSWORD) == 401
    assert login_status(client, "alice", NEW_PASSWORD) == 200


@pytest.mark.parametrize(
    ("field", "value"), [("is_active", False), ("is_admin", True), ("is_premium", True)]
)
def test_admin_sets_is_active_and_is_admin(client, session, user, admin_headers, field, value):
    response = client.patch(f"/api/users/{user.id}", json={field: value}, headers=admin_headers)

    assert response.status_code == 200
    assert response.get_json()[field] is value
    session.expire_all()
    assert getattr(session.get(User, user.id), field) is value


@pytest.mark.parametrize(
    ("field", "value"), [("is_admin", True), ("is_active", False), ("is_premium", True)]
)
def test_non_admin_cannot_set_admin_fields(client, session, user, auth_headers, field, value):
    response = client.patch(
        f"/api/users/{user.id}", json={"username": "sneaky", field: value}, headers=auth_headers
    )

    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    me = client.get("/api/users/me", headers=auth_headers).get_json()
    assert me["is_admin"] is False
    assert me["is_active"] is True
    assert me["is_premium"] is False
    assert me["username"] == "alice"


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", 5), ("created_at", "2020-01-01T00:00:00+00:00"), ("role", "admin")],
)
def test_patch_rejects_unknown_and_read_only_fields(client, user, auth_headers, field, value):
    response = client.patch(f"/api/users/{user.id}", json={field: value}, headers=auth_headers)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("username", "x"), ("username", "bad name"), ("email", "nope"), ("password", "short")],
)
def test_patch_validates_fields_like_registration(client, user, auth_headers, field, value):
    response = client.patch(f"/api/users/{user.id}", json={field: value}, headers=auth_headers)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]


def test_patch_another_user_is_403(client, session, user, make_user, auth_headers):
    other = make_user("bob")

    response = client.patch(
        f"/api/users/{other.id}", json={"username": "hijacked"}, headers=auth_headers
    )

    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    session.expire_all()
    assert session.get(User, other.id).username == "bob"


@pytest.mark.parametrize(
    ("field", "value"), [("username", "BOB"), ("username", "bob"), ("email", "Bob@example.com")]
)
def test_patch_to_a_taken_username_or_email_is_409(
    client, user, make_user, auth_headers, field, value
):
    make_user("bob", email="bob@example.com")

    body = {field: value, "current_password": PASSWORD}
    response = client.patch(f"/api/users/{user.id}", json=body, headers=auth_headers)

    assert response.status_code == 409
    body = response.get_json()
    assert field in body["detail"] or field in body.get("errors", {}).get("json", {})


# DELETE /api/users/<id>


@pytest.mark.parametrize("actor", ["alice", "root"])
def test_delete_user_by_self_or_admin_removes_user_and_items(
    client, session, user, admin, auth, actor
):
    item_ids = [Item.create(user=user, name=f"thing {n}").id for n in range(2)]
    headers = auth.headers(actor)

    response = client.delete(f"/api/users/{user.id}", headers=headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    session.expire_all()
    assert session.get(User, user.id) is None
    remaining = select(func.count()).select_from(Item).where(Item.id.in_(item_ids))
    assert session.scalar(remaining) == 0


def test_delete_another_user_is_403(client, session, user, make_user, auth_headers):
    other = make_user("bob")

    response = client.delete(f"/api/users/{other.id}", headers=auth_headers)

    assert response.status_code == 403
    session.expire_all()
    assert session.get(User, other.id) is not None


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_write_to_missing_user_is_404(client, admin_headers, method):
    response = getattr(client, method)(
        "/api/users/999999", json={"username": "ghost"}, headers=admin_headers
    )

    assert response.status_code == 404
    assert response.get_json()["instance"] == "/api/users/999999"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_write_to_a_user_without_token_is_401(client, session, user, method):
    response = getattr(client, method)(f"/api/users/{user.id}", json={"username": "x" * 5})

    assert response.status_code == 401
    session.expire_all()
    assert session.get(User, user.id).username == "alice"


# GET /api/users/<id>/items


def test_user_items_lists_only_that_users_items(client, user, make_user):
    other = make_user("bob")
    mine = Item.create(user=user, name="mine")
    Item.create(user=other, name="theirs")

    response = client.get(f"/api/users/{user.id}/items")

    assert response.status_code == 200
    assert [item["id"] for item in response.get_json()] == [mine.id]
    assert response.headers["X-Total-Count"] == "1"


def test_user_items_of_missing_user_is_404(client):
    response = client.get("/api/users/999999/items")

    assert response.status_code == 404


# Idempotency-Key on POST /api/users


def test_register_retry_with_same_idempotency_key_replays_without_creating(client, session):
    headers = {"Idempotency-Key": "signup-123"}

    first = client.post("/api/users", json=registration(), headers=headers)
    retry = client.post("/api/users", json=registration(), headers=headers)

    assert first.status_code == 201
    assert retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert count_users(session, "carol") == 1


def test_register_reusing_idempotency_key_with_another_body_is_422(client, session):
    headers = {"Idempotency-Key": "signup-456"}
    client.post("/api/users", json=registration(), headers=headers)

    response = client.post("/api/users", json=registration(username="dave"), headers=headers)

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert count_users(session, "dave") == 0


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_register_rejects_malformed_idempotency_key(client, session, key):
    response = client.post("/api/users", json=registration(), headers={"Idempotency-Key": key})

    assert response.status_code == 422
    assert count_users(session, "carol") == 0
