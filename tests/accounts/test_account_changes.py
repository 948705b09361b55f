"""Account changes and their notices (API.md "Account changes and their notices"), without a
broker: every email is composed by the job that runs once the response is closed."""

from __future__ import annotations

import pytest

from myproject.models import User
from tests.accounts.support import change, links_in, resend, to, verify
from tests.jobs.support import ask_reset, confirm_reset, token_in
from tests.support import PASSWORD, post_login

NEW_PASSWORD = "brand-new-password-7"
ATTACKER = "attacker@example.net"


@pytest.fixture()
def uid(user) -> int:
    """alice's id (the ``user`` object is detached once a request has ended its session)."""
    return user.id


def problem_fields(response) -> set[str]:
    return set(response.get_json().get("errors", {}).get("json", {}))


# --- the takeover with a stolen access token fails at every step ---------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"email": ATTACKER},
        {"email": ATTACKER, "current_password": "wrong-password-1"},
        {"password": NEW_PASSWORD},
        {"password": NEW_PASSWORD, "current_password": "wrong-password-1"},
        {"email": ATTACKER, "password": NEW_PASSWORD, "current_password": ""},
    ],
)
def test_a_stolen_access_token_cannot_change_email_or_password(
    client, session, uid, auth_headers, sent, body
):
    response = change(client, uid, body, auth_headers)

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert problem_fields(response) == {"current_password"}
    session.expire_all()
    assert session.get(User, uid).email == "alice@example.com"
    assert post_login(client, "alice", PASSWORD).status_code == 200
    assert sent == []


def test_the_takeover_attempt_fails_at_each_step(client, session, uid, auth_headers, sent):
    # 1. Move the account to the attacker's address: refused without the password.
    assert change(client, uid, {"email": ATTACKER}, auth_headers).status_code == 422
    # 2. Ask for a reset at the attacker's address: no account has it, nothing is sent.
    assert ask_reset(client, ATTACKER).status_code == 202
    assert to(sent, ATTACKER) == []
    # 3. A reset for the real address goes to the real owner only.
    assert ask_reset(client, "alice@example.com").status_code == 202
    assert [m.recipients for m in sent] == [["alice@example.com"]]
    # 4. Changing the password needs the one the attacker does not have.
    assert change(client, uid, {"password": NEW_PASSWORD}, auth_headers).status_code == 422
    session.expire_all()
    assert session.get(User, uid).email == "alice@example.com"


def test_same_email_needs_no_password(client, uid, auth_headers, sent):
    response = change(client, uid, {"email": "Alice@Example.com"}, auth_headers)

    assert response.status_code == 200
    assert sent == []


def test_an_admin_changes_another_user_without_a_password(client, uid, admin_headers, sent):
    body = {"email": "alice@example.org", "password": NEW_PASSWORD}

    response = change(client, uid, body, admin_headers)

    assert response.status_code == 200
    assert response.get_json()["email"] == "alice@example.org"
    assert post_login(client, "alice", NEW_PASSWORD).status_code == 200


def test_an_admin_changing_their_own_email_needs_their_password(client, admin, admin_headers):
    response = change(client, admin.id, {"email": "root@example.org"}, admin_headers)

    assert response.status_code == 422
    assert problem_fields(response) == {"current_password"}


def test_current_password_is_documented_as_write_only(client):
    spec = client.get("/api/openapi.json").get_json()

    field = spec["components"]["schemas"]["UserUpdate"]["properties"]["current_password"]

    assert field["writeOnly"] is True
    assert "current_password" not in spec["components"]["schemas"]["User"]["properties"]


# --- notices go to the address the account had before -------------------------------------


def notice_to(sent, address: str):
    notices = to(sent, address, "account was changed")
    assert len(notices) == 1, [(m.recipients, m.subject) for m in sent]
    return notices[0]


def assert_harmless(message) -> None:
    """No link, nothing that changes anything, no secret."""
    for part in (message.body, message.html):
        assert "http" not in part and "token" not in part.lower()
        assert PASSWORD not in part and NEW_PASSWORD not in part


def test_a_password_change_tells_the_address(client, uid, auth_headers, sent):
    body = {"password": NEW_PASSWORD, "current_password": PASSWORD}
    headers = {**auth_headers}

    response = client.patch(
        f"/api/users/{uid}", json=body, headers=headers, environ_base={"REMOTE_ADDR": "10.9.8.7"}
    )
    response.close()

    assert response.status_code == 200
    notice = notice_to(sent, "alice@example.com")
    assert "The password" in notice.body and "10.9.8.7" in notice.body
    assert_harmless(notice)


def test_an_email_change_tells_the_old_address_and_verifies_the_new_one(
    client, uid, auth_headers, sent
):
    body = {"email": "alice@example.org", "current_password": PASSWORD}

    response = change(client, uid, body, auth_headers)

    assert response.status_code == 200
    assert response.get_json()["email_verified"] is False
    notice = notice_to(sent, "alice@example.com")
    assert "The email address" in notice.body
    assert_harmless(notice)
    assert "alice@example.org" not in notice.body  # the old address learns nothing new
    verification = to(sent, "alice@example.org", "Verify")
    assert len(verification) == 1 and len(links_in(verification[0])) == 1
    assert len(sent) == 2


def test_a_reset_tells_the_address(client, uid, sent):
    ask_reset(client, "alice@example.com")
    token = token_in(sent[-1].body)

    assert confirm_reset(client, token, NEW_PASSWORD).status_code == 204

    notice = notice_to(sent, "alice@example.com")
    assert "password reset" in notice.body
    assert_harmless(notice)


def test_a_failed_change_sends_nothing(client, uid, make_user, auth_headers, sent):
    make_user("bob", email="bob@example.com")
    body = {"email": "bob@example.com", "current_password": PASSWORD}

    assert change(client, uid, body, auth_headers).status_code == 409
    assert sent == []


# --- every earlier reset and verification token stops working ------------------------------


def password_change(client, uid, headers, _admin_headers):
    body = {"password": NEW_PASSWORD, "current_password": PASSWORD}
    assert change(client, uid, body, headers).status_code == 200


def email_change(client, uid, headers, _admin_headers):
    body = {"email": "alice@example.org", "current_password": PASSWORD}
    assert change(client, uid, body, headers).status_code == 200


def another_reset(client, _user, _headers, _admin_headers):
    from myproject.extensions import mail

    with mail.record_messages() as messages:
        ask_reset(client, "alice@example.com")
    assert confirm_reset(client, token_in(messages[0].body), NEW_PASSWORD).status_code == 204


def deactivation(client, uid, _headers, admin_headers):
    assert change(client, uid, {"is_active": False}, admin_headers).status_code == 200


CHANGES = [password_change, email_change, another_reset, deactivation]


@pytest.mark.parametrize("make_change", CHANGES, ids=lambda f: f.__name__)
def test_earlier_reset_tokens_get_400_after_the_change(
    client, uid, auth_headers, admin_headers, sent, make_change
):
    ask_reset(client, "alice@example.com")
    earlier = token_in(sent[-1].body)

    make_change(client, uid, auth_headers, admin_headers)

    response = confirm_reset(client, earlier, "yet-another-password-9")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("make_change", CHANGES, ids=lambda f: f.__name__)
def test_earlier_verification_tokens_get_400_after_the_change(
    client, uid, auth_headers, admin_headers, sent, make_change
):
    assert resend(client, auth_headers).status_code == 202
    earlier = links_in(sent[-1])[0]

    make_change(client, uid, auth_headers, admin_headers)

    response = verify(client, earlier)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
