"""Helpers for the email and job tests (not fixtures)."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from myproject import create_app
from myproject.extensions import limiter

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


LIMITER_STATE = ("enabled", "_storage", "_limiter", "_key_prefix", "_storage_dead")


@contextlib.contextmanager
def app_factory(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps on ``database_url`` with other settings (in-process cache and limits).

    Flask-Limiter's ``limiter`` is one global object that every ``create_app`` re-initialises;
    its state is put back on exit, so later tests keep the session app's (disabled) limits.
    """
    saved = {name: getattr(limiter, name) for name in LIMITER_STATE}

    def factory(**overrides: Any) -> Flask:
        limiter._key_prefix = ""  # see tests/test_ratelimit.py: init_app keeps the first prefix
        limiter._storage_dead = False
        settings: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": None,
            "CACHE_TYPE": "SimpleCache",
            "CACHE_OPTIONS": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_KEY_PREFIX": f"{os.environ['REDIS_KEY_PREFIX']}-jobs-{uuid.uuid4().hex}",
            **overrides,
        }
        return create_app("testing", settings)

    try:
        yield factory
    finally:
        for name, value in saved.items():
            setattr(limiter, name, value)


def smtp_down(**overrides: Any) -> dict[str, Any]:
    """Settings that really send, to a port where nothing listens."""
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": 1, "MAIL_SUPPRESS_SEND": False, **overrides}
