from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from myproject import create_app
from myproject.extensions import limiter, mail


@pytest.fixture()
def sent(app: Any) -> Iterator[list[Any]]:
    """The messages Flask-Mail sends during the test (TESTING records instead of sending)."""
    with mail.record_messages() as messages:
        yield messages


LIMITER_STATE = ("enabled", "_storage", "_limiter", "_key_prefix", "_storage_dead")


@pytest.fixture()
def make_app(db: Any, database_url: str) -> Iterator[Any]:
    """Build apps on the test's database with other settings (in-process cache and limits).

    Flask-Limiter's ``limiter`` is one global object that every ``create_app`` re-initialises;
    its state is put back afterwards, so later tests keep the session app's (disabled) limits.
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
            "RATELIMIT_KEY_PREFIX": f"test-jobs-{uuid.uuid4().hex}",
            **overrides,
        }
        return create_app("testing", settings)

    yield factory
    for name, value in saved.items():
        setattr(limiter, name, value)


def smtp_down(**overrides: Any) -> dict[str, Any]:
    """Settings that really send, to a port where nothing listens."""
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": 1, "MAIL_SUPPRESS_SEND": False, **overrides}
