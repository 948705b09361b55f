"""POST /api/items with an Idempotency-Key: replays, conflicts, expiry, per-user keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import g
from sqlalchemy import select

from myproject.models import IdempotencyKey, Item
from tests.support import NEW_ITEM, assert_problem, item_count

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


def unanswered(session: Any, key: str, age: timedelta) -> None:
    """Turn the finished request with ``key`` into one that never answered, ``age`` ago,
    and that wrote nothing."""
    record = session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))
    session.delete(session.get(Item, json.loads(record.body)["id"]))
    record.update(status=None, body=None, headers=None, created_at=datetime.now(UTC) - age)


def test_reservation_older_than_the_request_timeout_is_taken_over(
    app, client, auth_headers, session, user
):
    assert post_with_key(client, auth_headers, "died-1").status_code == 201
    unanswered(session, "died-1", timedelta(seconds=app.config["REQUEST_TIMEOUT"] + 1))

    response = post_with_key(client, auth_headers, "died-1")

    assert response.status_code == 201
    assert item_count(session) == 1


def test_reservation_within_the_request_timeout_still_gets_409(
    app, client, auth_headers, session, user
):
    assert post_with_key(client, auth_headers, "running-1").status_code == 201
    unanswered(session, "running-1", timedelta(seconds=1))

    response = post_with_key(client, auth_headers, "running-1")

    assert_problem(response, 409)
    assert item_count(session) == 0


def test_answer_is_stored_with_the_write(client, auth_headers, session, user):
    response = post_with_key(client, auth_headers, "stored-1")

    record = session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "stored-1"))
    assert response.status_code == record.status == 201
    assert record.body == response.get_data(as_text=True)
