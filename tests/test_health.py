"""Readiness against the migrations (myproject/health.py, myproject/readiness.py).

The suite's schema comes from db.create_all(), which Alembic never stamps, so the testing
configuration skips the migrations check; these tests turn it on and stamp revisions by hand,
inside the per-test transaction.
"""

from __future__ import annotations

import os

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from myproject import create_app
from myproject.extensions import db as _db
from myproject.health import CHECKS
from myproject.readiness import migrations_pending

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")
SCRIPT = ScriptDirectory(MIGRATIONS)
HEAD = SCRIPT.get_current_head()
CLOSED_PORT_DB = "postgresql+psycopg://postgres@127.0.0.1:1/nope"


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(autouse=True)
def fresh_checks(app):
    """Readiness answers from checks up to 1 s old: each test here changes what they see."""
    app.extensions.pop(CHECKS, None)
    yield
    app.extensions.pop(CHECKS, None)


@pytest.fixture()
def checked(app, monkeypatch):
    monkeypatch.setitem(app.config, "CHECK_MIGRATIONS", True)


def stamp(session, revision):
    session.execute(
        text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    )
    session.execute(
        text("INSERT INTO alembic_version (version_num) VALUES (:rev)"), {"rev": revision}
    )


def older_revision():
    older = SCRIPT.get_revision(HEAD).down_revision
    assert isinstance(older, str)
    return older


def test_ready_is_ok_at_the_head_revision(checked, client, session):
    stamp(session, HEAD)

    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


def test_ready_is_503_when_migrations_never_ran(checked, client):
    response = client.get("/health/ready")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "migrations pending"


def test_ready_is_503_at_an_older_revision(checked, client, session):
    stamp(session, older_revision())

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "migrations pending"


def test_ready_is_ok_when_the_database_is_newer_than_the_code(checked, client, session):
    # A rolling deploy migrates first; instances still on the old code keep serving.
    stamp(session, "9999_from_a_newer_release")

    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


@pytest.mark.parametrize(("revision", "expected"), [(None, True), ("older", True), ("head", False)])
def test_migrations_pending_compares_the_database_with_the_head(
    checked, app, session, revision, expected
):
    if revision is not None:
        stamp(session, HEAD if revision == "head" else older_revision())

    with app.app_context():
        assert migrations_pending() is expected


def test_migrations_pending_is_false_when_the_database_is_unreachable():
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": CLOSED_PORT_DB})

    with app.app_context():
        assert migrations_pending() is False
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"
    with app.app_context():
        _db.engine.dispose()


def test_development_checks_migrations_by_default():
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": None})
    with app.app_context():
        _db.create_all()

    response = app.test_client().get("/health/ready")

    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "migrations pending", "redis": "not configured"},
    }
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture()
def empty_database(tmp_path):
    """A database nobody ran `flask db upgrade` on (PostgreSQL in that lane, else SQLite)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    from myproject.config import normalize_database_url
    from tests.support import TempDatabase

    with TempDatabase(normalize_database_url(base)) as url:
        yield url


@pytest.mark.parametrize("path", ["/api/items", "/api/items/1", "/api/users"])
def test_api_on_an_unmigrated_database_is_503_saying_migrations_pending(empty_database, path):
    app = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": empty_database, "CHECK_MIGRATIONS": True}
    )

    response = app.test_client().get(path)

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "migrations pending" in response.get_json()["detail"]
    with app.app_context():
        _db.engine.dispose()
