"""Email without MAIL_SERVER: development logs it whole, production never logs its text."""

from __future__ import annotations

import logging

from tests.jobs.support import ask_reset, register, token_in

LOGGED = {"MAIL_SERVER": None, "MAIL_SUPPRESS_SEND": False}


def test_development_logs_the_whole_email(make_app, caplog):
    app = make_app(**LOGGED)

    with caplog.at_level(logging.INFO, logger="myproject.jobs.mail"):
        register(app.test_client(), "newcomer")

    assert "To: newcomer@example.com" in caplog.text
    assert "Hello newcomer" in caplog.text


def test_development_log_has_a_usable_reset_link(make_app, caplog):
    app = make_app(**LOGGED)
    client = app.test_client()
    register(client, "newcomer")

    with caplog.at_level(logging.INFO, logger="myproject.jobs.mail"):
        ask_reset(client, "newcomer@example.com")

    assert token_in(caplog.text)


def test_production_logs_neither_the_text_nor_the_token(make_app, caplog):
    app = make_app(**LOGGED, ENV_NAME="production")
    client = app.test_client()
    register(client, "newcomer")

    with caplog.at_level(logging.INFO):
        ask_reset(client, "newcomer@example.com")

    assert "MAIL_SERVER is not set" in caplog.text
    assert "token=" not in caplog.text
    assert "Hello newcomer" not in caplog.text
