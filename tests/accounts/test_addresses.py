"""Address rules (API.md "Users"): email-validator's normalisation, internationalised domains
stored and sent in IDNA form, a non-ASCII local part refused unless MAIL_SMTPUTF8."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from myproject.extensions import db as _db
from tests.accounts.support import change, to
from tests.jobs.services import SmtpSink
from tests.jobs.support import ask_reset, post
from tests.support import PASSWORD, wait_for

UNICODE_LOCAL = "jörg@example.com"


def registration(email: str, username: str = "newcomer") -> dict[str, str]:
    return {"username": username, "email": email, "password": PASSWORD}


def test_an_internationalised_domain_is_stored_and_sent_in_idna_form(client, sent):
    response = post(client, "/api/users", registration("Newcomer@Bücher.DE"))

    assert response.status_code == 201
    assert response.get_json()["email"] == "newcomer@xn--bcher-kva.de"
    assert [m.recipients for m in sent] == [["newcomer@xn--bcher-kva.de"]]


def test_the_unicode_and_idna_forms_are_one_address(client, sent):
    post(client, "/api/users", registration("newcomer@bücher.de"))

    again = post(client, "/api/users", registration("newcomer@xn--bcher-kva.de", "other"))
    reset = ask_reset(client, "NEWCOMER@BÜCHER.de")

    assert again.status_code == 409
    assert reset.status_code == 202
    assert len(to(sent, "newcomer@xn--bcher-kva.de", "Reset")) == 1


@pytest.mark.parametrize("spelling", ["newcomer@bücher.de", "NEWCOMER@xn--bcher-kva.DE"])
def test_either_form_of_the_address_logs_in(client, sent, spelling):
    post(client, "/api/users", registration("newcomer@bücher.de"))

    response = post(client, "/auth/token", {"username": spelling, "password": PASSWORD})

    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("spelling", ["newcomer@localhost", "newcomer@", "@bücher.de", "a@b@c.de"])
def test_a_login_with_no_such_address_is_401(client, sent, spelling):
    post(client, "/api/users", registration("newcomer@bücher.de"))

    response = post(client, "/auth/token", {"username": spelling, "password": PASSWORD})

    assert response.status_code == 401, response.get_json()


@pytest.mark.parametrize("email", [UNICODE_LOCAL, "a@localhost", "a@b@example.com", "a@x.test"])
def test_undeliverable_addresses_are_422_naming_email(client, sent, email):
    response = post(client, "/api/users", registration(email))

    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"email"}
    assert sent == []


def test_a_non_ascii_local_part_is_refused_on_change_too(client, user, auth_headers):
    body = {"email": UNICODE_LOCAL, "current_password": PASSWORD}

    response = change(client, user.id, body, auth_headers)

    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"email"}


def test_the_length_limit_applies_to_the_normalised_address(client):
    response = post(client, "/api/users", registration("a" * 64 + "@" + "b" * 60 + ".com"))

    assert response.status_code == 422


# --- MAIL_SMTPUTF8=true: accepted, and sent with SMTPUTF8 to a server that offers it -------


@pytest.fixture()
def utf8_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(smtputf8=True).start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture()
def utf8_app(make_app, utf8_sink):
    app = make_app(
        MAIL_SMTPUTF8=True,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=utf8_sink.port,
        MAIL_SUPPRESS_SEND=False,
        TESTING=False,
    )
    yield app
    with app.app_context():
        _db.engine.dispose()


def test_with_smtputf8_a_non_ascii_local_part_registers_and_receives_mail(utf8_app, utf8_sink):
    response = post(utf8_app.test_client(), "/api/users", registration("Jörg@Bücher.de"))

    assert response.status_code == 201
    assert response.get_json()["email"] == "jörg@xn--bcher-kva.de"
    received = wait_for(lambda: utf8_sink.to("jörg@xn--bcher-kva.de"), 10, "the welcome email")
    assert "Welcome" in received[0].subject


def test_with_smtputf8_the_message_asks_for_smtputf8(make_app, sent):
    app = make_app(MAIL_SMTPUTF8=True)

    post(app.test_client(), "/api/users", registration(UNICODE_LOCAL))
    post(app.test_client(), "/api/users", registration("ascii@example.com", "ascii"))

    assert [m.mail_options for m in sent] == [["SMTPUTF8"], []]
