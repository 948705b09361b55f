"""Small operator findings (issue 24): development answers the same JSON bytes as production,
``/api/docs/`` leads to the docs, the pre-commit ruff is the pinned ruff."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from myproject import create_app
from myproject.extensions import db as _db
from tests.test_gunicorn import GOOD_JWT_SECRET, GOOD_SECRET

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def dev_and_production(monkeypatch, restore_logging):
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("JWT_SECRET_KEY", GOOD_JWT_SECRET)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("ALLOWED_HOSTS", "localhost")
    apps = []
    for name in ("development", "production"):
        app = create_app(name, {"SQLALCHEMY_DATABASE_URI": "sqlite://", "RATELIMIT_ENABLED": False})
        with app.app_context():
            _db.create_all()
        apps.append(app)
    yield apps
    for app in apps:
        with app.app_context():
            _db.engine.dispose()


@pytest.mark.parametrize("path", ["/health", "/api/items", "/api/items/99", "/api/nothing"])
def test_development_answers_the_json_production_answers(dev_and_production, path):
    development, production = (app.test_client().get(path) for app in dev_and_production)

    assert development.status_code == production.status_code
    if path == "/health":  # the others carry a request id of their own
        assert development.data == production.data
    for answer in (development, production):
        assert answer.data.endswith(b"}\n") or answer.data.endswith(b"]\n"), answer.data
        assert not answer.data.endswith(b"\n\n")
        assert b"\n  " not in answer.data  # not indented in either


def test_docs_with_a_trailing_slash_redirect_to_the_docs(client):
    answer = client.get("/api/docs/")

    assert answer.status_code == 308
    assert answer.headers["Location"] == "/api/docs"
    assert client.get(answer.headers["Location"]).status_code == 200


def test_the_pre_commit_ruff_is_the_pinned_ruff():
    pinned = re.search(r"^ruff==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), re.M)
    hooks = (ROOT / ".pre-commit-config.yaml").read_text()
    rev = re.search(r"astral-sh/ruff-pre-commit\n\s+rev: v(\S+)", hooks)

    assert pinned and rev
    assert rev.group(1) == pinned.group(1)
