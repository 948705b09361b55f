"""Email verification (API.md "Email verification"), without a broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from myproject.models import EmailVerification, User
from myproject.models.base import utcnow
from tests.accounts.support import change, links_in, post, resend, to, verify
from tests.jobs.support import app_factory, register
from tests.support import PASSWORD, bearer


@pytest.fixture()
def uid(user) -> int:
    return user.id


def verified(session, user_id: int) -> bool:
    session.expire_all()
    return session.get(User, user_id).email_verified


def test_the_welcome_email_carries_the_verification_link(client, sent):
    assert register(client, "newcomer").status_code == 201

    welcome = to(sent, "newcomer@example.com", "Welcome")
    assert len(welcome) == 1 and len(sent) == 1
    assert "http://localhost:5173/verify-email?token=" in welcome[0].body
    assert 'href="http://localhost:5173/verify-email?token=' in welcome[0].html


def test_the_link_verifies_the_address_once(client, session, sent):
    body = register(client, "newcomer").get_json()
    assert body["email_verified"] is False
    token = links_in(sent[0])[0]

    assert verify(client, token).status_code == 204
    assert verified(session, body["id"])
    again = verify(client, token)
    assert again.status_code == 400
    assert "verification token" in again.get_json()["detail"]


def test_the_database_holds_only_a_hash(client, session, sent):
    register(client, "newcomer")
    token = links_in(sent[0])[0]

    record = session.scalars(select(EmailVerification)).one()

    assert token not in str(vars(record)) and record.token_hash != token


@pytest.mark.parametrize("token", ["", "x" * 43, "a" * 300])
def test_unknown_or_malformed_tokens_are_refused(client, token):
    assert verify(client, token).status_code in (400, 422)


def test_an_expired_token_gets_400(client, session, sent):
    body = register(client, "newcomer").get_json()
    token = links_in(sent[0])[0]
    session.execute(update(EmailVerification).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()

    assert verify(client, token).status_code == 400
    assert not verified(session, body["id"])


def test_tokens_live_email_verify_expires(client, session, app, sent):
    register(client, "newcomer")
    record = session.scalars(select(EmailVerification)).one()

    lifetime = (record.expires_at - record.created_at).total_seconds()

    assert abs(lifetime - app.config["EMAIL_VERIFY_EXPIRES"]) < 5 and lifetime == pytest.approx(
        172800, abs=5
    )


def test_resend_sends_a_new_link_and_the_older_stops_working(
    client, session, uid, auth_headers, sent
):
    assert resend(client, auth_headers).status_code == 202
    older = links_in(sent[-1])[0]
    response = resend(client, auth_headers)
    newer = links_in(sent[-1])[0]

    assert response.status_code == 202
    assert to(sent, "alice@example.com", "Verify") == sent
    assert verify(client, older).status_code == 400
    assert verify(client, newer).status_code == 204
    assert verified(session, uid)


def test_resend_when_verified_is_409(client, uid, auth_headers, sent):
    resend(client, auth_headers)
    verify(client, links_in(sent[-1])[0])

    response = resend(client, auth_headers)

    assert response.status_code == 409
    assert response.content_type == "application/problem+json"


def test_resend_needs_an_access_token(client):
    assert client.post("/auth/verify-email/resend").status_code == 401


def test_an_email_change_unverifies_and_the_old_link_gets_400(
    client, session, uid, auth_headers, sent
):
    resend(client, auth_headers)
    old_link = links_in(sent[-1])[0]

    body = {"email": "alice@example.org", "current_password": PASSWORD}
    assert change(client, uid, body, auth_headers).status_code == 200

    assert verify(client, old_link).status_code == 400
    new_link = links_in(to(sent, "alice@example.org", "Verify")[0])[0]
    assert verify(client, new_link).status_code == 204
    assert verified(session, uid)


def test_a_verified_user_changing_email_is_unverified_again(
    client, session, uid, auth_headers, sent
):
    resend(client, auth_headers)
    verify(client, links_in(sent[-1])[0])
    assert verified(session, uid)

    body = {"email": "alice@example.org", "current_password": PASSWORD}
    response = change(client, uid, body, auth_headers)

    assert response.get_json()["email_verified"] is False


def test_email_verified_is_read_only(client, uid, auth_headers):
    response = change(client, uid, {"email_verified": True}, auth_headers)

    assert response.status_code == 422


def test_openapi_documents_the_verification_endpoints(client):
    spec = client.get("/api/openapi.json").get_json()

    assert {"204", "400", "422", "429"} <= set(
        spec["paths"]["/auth/verify-email"]["post"]["responses"]
    )
    resend_answers = spec["paths"]["/auth/verify-email/resend"]["post"]["responses"]
    assert {"202", "401", "409", "429"} <= set(resend_answers)
    assert "email_verified" in spec["components"]["schemas"]["User"]["required"]


# --- REQUIRE_VERIFIED_EMAIL ---------------------------------------------------------------


@pytest.fixture()
def strict(db, database_url):
    with app_factory(database_url) as make_app:
        yield make_app(REQUIRE_VERIFIED_EMAIL=True).test_client()


def login_headers(client, username: str = "alice") -> dict[str, str]:
    body = client.post("/auth/token", json={"username": username, "password": PASSWORD})
    return bearer(body.get_json()["access_token"])


def test_unverified_users_cannot_write_under_api(strict, uid, sent):
    headers = login_headers(strict)

    response = strict.post("/api/items", json={"name": "Lamp"}, headers=headers)

    assert response.status_code == 403
    assert "Verify your email address" in response.get_json()["detail"]
    assert strict.get("/api/items", headers=headers).status_code == 200


def test_unverified_users_may_still_change_their_own_user(strict, uid, make_user, sent):
    other = make_user("bob", email="bob@example.com").id
    headers = login_headers(strict)

    own = change(strict, uid, {"username": "alice2"}, headers)
    body = {"email": "alice@example.org", "current_password": PASSWORD}
    own_email = change(strict, uid, body, headers)
    others = change(strict, other, {"username": "bob2"}, headers)

    assert (own.status_code, own_email.status_code, others.status_code) == (200, 200, 403)
    assert resend(strict, headers).status_code == 202  # /auth is not under /api


def test_verified_users_write_as_before(strict, uid, sent):
    headers = login_headers(strict)
    resend(strict, headers)
    assert verify(strict, links_in(sent[-1])[0]).status_code == 204

    response = strict.post("/api/items", json={"name": "Lamp"}, headers=headers)

    assert response.status_code == 201


def test_without_the_setting_unverified_users_write(client, uid, auth_headers):
    response = post(client, "/api/items", {"name": "Lamp"}, headers=auth_headers)

    assert response.status_code == 201


# --- limits: as for password reset (RATELIMIT_PASSWORD_RESET) -----------------------------


@pytest.fixture()
def limited(db, database_url):
    with app_factory(database_url) as make_app:
        yield make_app(
            RATELIMIT_ENABLED=True,
            RATELIMIT_PASSWORD_RESET="2 per hour",
            RATELIMIT_ANONYMOUS="1000 per minute",
            RATELIMIT_SIGNED_IN="1000 per minute",
        ).test_client()


def test_verify_is_limited_per_client_address(limited):
    statuses = [
        verify(limited, "x" * 43, environ_base={"REMOTE_ADDR": address}).status_code
        for address in ("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2")
    ]

    assert statuses == [400, 400, 429, 400]


def test_resend_is_limited_per_user_from_any_address(limited, uid, sent):
    headers = login_headers(limited)

    statuses = [
        resend(limited, headers, environ_base={"REMOTE_ADDR": address}).status_code
        for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    ]

    assert statuses == [202, 202, 429]


def test_a_welcome_email_outlives_its_superseded_link(client, sent):
    # The welcome is still unsent when a new verification supersedes its link.
    response = client.post(
        "/api/users",
        json={"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD},
    )
    headers = login_headers(client, "newcomer")
    resend(client, headers)  # runs its own job, and the welcome's (both deferred until now)
    response.close()

    welcome = to(sent, "newcomer@example.com", "Welcome")
    verification = to(sent, "newcomer@example.com", "Verify")
    assert len(welcome) == 1 and len(verification) == 1
    assert links_in(welcome[0]) == [] and len(links_in(verification[0])) == 1
