"""``q`` at scale (API.md "Items", General rules): the trigram indexes serve the query as the
app writes it, a search counts a bounded number of matches, and no statement outlives
``DB_STATEMENT_TIMEOUT``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from myproject import create_app
from myproject.api import pagination
from myproject.api.listing import item_filters
from myproject.extensions import db as _db
from myproject.models import Item
from tests.support import assert_problem


@pytest.fixture()
def postgresql(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: set TEST_DATABASE_URL")
    return database_url


def test_search_is_a_bitmap_or_of_the_trigram_indexes(postgresql, session, make_item, user):
    for n in range(300):
        make_item(user, name=f"thing {n}", description=f"plain text {n}")
    session.execute(text("ANALYZE items"))
    session.execute(text("SET LOCAL enable_seqscan = off"))  # the index must be usable at all
    query = select(Item.id).where(*item_filters({"q": "zebra"}))
    sql = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})

    plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))

    assert "BitmapOr" in plan, plan
    assert "ix_items_name_trgm" in plan and "ix_items_description_trgm" in plan, plan


def test_a_search_counts_at_most_the_cap(client, make_item, user, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    for n in range(8):
        make_item(user, name=f"guitar {n}")

    first = client.get("/api/items?q=guitar&per_page=5")
    second = client.get("/api/items?q=guitar&per_page=5&page=2")

    assert first.headers["X-Total-Count"] == "5"
    assert first.headers["X-Total-Count-Lower-Bound"] == "true"
    assert 'rel="next"' in first.headers["Link"]
    assert len(first.get_json()) == 5
    assert len(second.get_json()) == 3  # rows past the cap are still served


def test_a_search_under_the_cap_and_a_list_count_exactly(client, make_item, user, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    for n in range(8):
        make_item(user, name=f"guitar {n}" if n < 4 else f"drum {n}")

    search = client.get("/api/items?q=guitar")
    listing = client.get("/api/items")

    assert search.headers["X-Total-Count"] == "4"
    assert listing.headers["X-Total-Count"] == "8"
    assert "X-Total-Count-Lower-Bound" not in search.headers
    assert "X-Total-Count-Lower-Bound" not in listing.headers


@pytest.fixture()
def impatient_app(postgresql: str) -> Iterator[Flask]:
    app = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": postgresql, "DB_STATEMENT_TIMEOUT": 0.2}
    )

    @app.get("/test-only/sleep/<float:seconds>")
    def sleep(seconds: float) -> Any:  # a test-only path: one slow statement
        _db.session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        return {"slept": seconds}

    yield app
    with app.app_context():
        _db.engine.dispose()


def test_a_statement_over_the_timeout_is_cancelled_with_503(impatient_app):
    client = impatient_app.test_client()

    response = client.get("/test-only/sleep/3.0")

    body = assert_problem(response, 503)
    assert "longer" in body["detail"]
    assert response.headers["Retry-After"] == "5"
    assert client.get("/test-only/sleep/0.01").status_code == 200  # the pool recovered


def test_the_timeout_is_set_on_every_connection(impatient_app):
    with impatient_app.app_context():
        assert _db.session.scalar(text("SHOW statement_timeout")) == "200ms"
