"""Helpers for the email and job tests (not fixtures)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

TOKEN_IN_LINK = re.compile(r"\?token=([^\s&\"<]+)")


def post(client: FlaskClient, path: str, body: dict[str, Any], **kwargs: Any) -> TestResponse:
    """POST and close the response, as a server does after sending it: without a broker,
    that is when the request's jobs run (myproject.jobs)."""
    response = client.post(path, json=body, **kwargs)
    response.close()
    return response


def register(client: FlaskClient, username: str = "newcomer", **kwargs: Any) -> TestResponse:
    body = {"username": username, "email": f"{username}@example.com", "password": "pass-word-1"}
    return post(client, "/api/users", body, **kwargs)


def ask_reset(client: FlaskClient, email: str, **kwargs: Any) -> TestResponse:
    return post(client, "/auth/password-reset", {"email": email}, **kwargs)


def confirm_reset(client: FlaskClient, token: str, password: str) -> TestResponse:
    return post(client, "/auth/password-reset/confirm", {"token": token, "password": password})


def token_in(text: str) -> str:
    """The reset token of the link in an email's text."""
    match = TOKEN_IN_LINK.search(text)
    assert match, f"no reset link in {text!r}"
    return match.group(1)
