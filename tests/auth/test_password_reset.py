"""Password reset by email (API.md "Password reset (email)"), without a broker: the reset
email is composed by the job that runs once the request's response is sent."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from myproject.extensions import mail
from myproject.models import OutboxEmail, PasswordReset
from myproject.models.base import utcnow
from tests.jobs.support import app_factory, ask_reset, confirm_reset, token_in
from tests.support import PASSWORD, bearer

NEW_PASSWORD = "brand-new-password-7"
ANSWER = {"message": "If an account uses this address, a password reset link is on its way."}


@pytest.fixture()
def sent(app: Any):
    with mail.record_messages() as messages:
        yield messages


@pytest.fixture()
def token(client, user, sent) -> str:
    """A token mailed to alice."""
    assert ask_reset(client, user.email).status_code == 202
    return token_in(sent[-1].body)


def login(client, password: str):
    return client.post("/auth/token", json={"username": "alice", "password": password})


def test_request_for_an_account_answers_202_and_mails_a_link(client, user, sent):
    response = ask_reset(client, "Alice@Example.com")

    assert response.status_code == 202
    assert response.get_json() == ANSWER
    assert sent[0].recipients == ["alice@example.com"]
    assert "http://localhost:5173/reset-password?token=" in sent[0].body
    assert 'href="http://localhost:5173/reset-password?token=' in sent[0].html


def test_unknown_address_gets_the_same_answer_and_no_email(client, sent):
    response = ask_reset(client, "nobody@example.com")

    assert response.status_code == 202
    assert response.get_json() == ANSWER
    assert sent == []


def test_inactive_account_gets_the_same_answer_and_no_email(client, make_user, sent):
    make_user("sleeper", is_active=False)

    response = ask_reset(client, "sleeper@example.com")

    assert response.status_code == 202
    assert response.get_json() == ANSWER
    assert sent == []


def test_token_is_url_safe_and_long(token):
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", token)


def test_confirm_sets_the_new_password(client, token):
    response = confirm_reset(client, token, NEW_PASSWORD)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert login(client, NEW_PASSWORD).status_code == 200
    assert login(client, PASSWORD).status_code == 401


def test_confirm_ends_every_login_of_the_account(client, user, auth, sent):
    tokens = auth.login("alice")
    ask_reset(client, "alice@example.com")
    token = token_in(sent[-1].body)

    assert confirm_reset(client, token, NEW_PASSWORD).status_code == 204

    assert client.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    refresh = client.post("/auth/token/refresh", headers=bearer(tokens["refresh_token"]))
    assert refresh.status_code == 401


def test_token_works_once(client, token):
    assert confirm_reset(client, token, NEW_PASSWORD).status_code == 204

    response = confirm_reset(client, token, "another-password-8")

    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert login(client, NEW_PASSWORD).status_code == 200


def test_newer_request_supersedes_the_older_token(client, sent, token):
    ask_reset(client, "alice@example.com")
    newer = token_in(sent[-1].body)

    assert confirm_reset(client, token, NEW_PASSWORD).status_code == 400
    assert confirm_reset(client, newer, NEW_PASSWORD).status_code == 204


def test_expired_token_gets_400(client, db, token):
    db.session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    response = confirm_reset(client, token, NEW_PASSWORD)

    assert response.status_code == 400
    assert login(client, PASSWORD).status_code == 200


def test_token_expires_after_password_reset_expires(client, db, app, token):
    reset = db.session.scalars(select(PasswordReset)).one()

    lifetime = reset.expires_at - reset.created_at

    assert abs(lifetime.total_seconds() - app.config["PASSWORD_RESET_EXPIRES"]) < 5


@pytest.mark.parametrize("token", ["", "x" * 43, "not a token", "a" * 300])
def test_unknown_or_malformed_token_is_refused(client, token):
    response = confirm_reset(client, token, NEW_PASSWORD)

    assert response.status_code in (400, 422)
    assert response.content_type == "application/problem+json"


def test_weak_password_gets_422_and_the_token_stays_usable(client, token):
    response = confirm_reset(client, token, "short")

    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]["json"]
    assert confirm_reset(client, token, NEW_PASSWORD).status_code == 204


def test_the_database_never_holds_a_usable_token(db, token):
    reset = db.session.scalars(select(PasswordReset)).one()
    email = db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.kind == "password_reset")
    ).one()

    stored = [str(value) for row in (reset, email) for value in vars(row).values()]

    assert not any(token in value for value in stored)
    assert reset.token_hash != token and email.nonce != token


def test_a_new_request_after_the_email_is_sent_keeps_one_live_token(client, db, token):
    ask_reset(client, "alice@example.com")

    live = db.session.scalars(select(PasswordReset).where(PasswordReset.used_at.is_(None))).all()

    assert len(live) == 1


# --- rate limits: per client address and per email address, alike for every address -------


@pytest.fixture()
def limited(db, database_url):
    with app_factory(database_url) as make_app:
        yield make_app(
            RATELIMIT_ENABLED=True,
            RATELIMIT_PASSWORD_RESET="2 per hour",
            RATELIMIT_ANONYMOUS="1000 per minute",
        ).test_client()


def statuses(client, email: str, addresses: list[str]) -> list[int]:
    return [
        ask_reset(client, email, environ_base={"REMOTE_ADDR": address}).status_code
        for address in addresses
    ]


@pytest.mark.parametrize("email", ["alice@example.com", "nobody@example.com"])
def test_one_address_is_limited_whatever_email_it_asks_for(limited, user, email):
    assert statuses(limited, "first@example.com", ["10.0.0.1"]) == [202]

    answers = statuses(limited, email, ["10.0.0.1", "10.0.0.1"])

    assert answers == [202, 429]


@pytest.mark.parametrize("email", ["alice@example.com", "nobody@example.com"])
def test_one_email_is_limited_from_every_address(limited, user, email):
    answers = statuses(limited, email.upper(), ["10.0.0.1", "10.0.0.2", "10.0.0.3"])

    assert answers == [202, 202, 429]


def test_limit_answers_known_and_unknown_addresses_alike(limited, user):
    statuses(limited, "alice@example.com", ["10.0.0.1", "10.0.0.2"])
    statuses(limited, "nobody@example.com", ["10.0.0.3", "10.0.0.4"])

    known = ask_reset(limited, "alice@example.com", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    unknown = ask_reset(limited, "nobody@example.com", environ_base={"REMOTE_ADDR": "10.0.0.6"})

    assert known.status_code == unknown.status_code == 429
    assert known.get_json()["detail"] == unknown.get_json()["detail"]
    # Whole seconds to the window's end: two requests may straddle a second boundary.
    assert abs(int(known.headers["Retry-After"]) - int(unknown.headers["Retry-After"])) <= 1


def test_reset_email_is_composed_after_the_response_is_sent(client, user, sent):
    # Known and unknown addresses cost the same: the request itself composes nothing.
    response = client.post("/auth/password-reset", json={"email": "alice@example.com"})
    assert response.status_code == 202
    assert sent == []

    response.close()

    assert len(sent) == 1


@pytest.mark.parametrize(
    ("path", "status"),
    [("/auth/password-reset", "202"), ("/auth/password-reset/confirm", "204")],
)
def test_openapi_documents_the_reset_endpoints(client, path, status):
    spec = client.get("/api/openapi.json").get_json()

    responses = spec["paths"][path]["post"]["responses"]

    assert {status, "400", "422", "429"} <= set(responses)
