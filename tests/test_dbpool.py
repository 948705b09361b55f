"""The service recovers by itself when the database comes back (myproject/dbpool.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import request
from sqlalchemy import event
from sqlalchemy.engine import make_url

from myproject import create_app, dbpool
from myproject.extensions import db as _db
from tests.support import TcpProxy


@pytest.fixture()
def database_proxy(app: Any, database_url: str) -> Any:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    proxy = TcpProxy(target_port=url.port or 5432).start()
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.stop()


def test_database_outage_is_503_and_the_next_request_after_it_is_served(
    database_proxy, monkeypatch
):
    monkeypatch.setattr(dbpool, "IDLE_PING_AFTER", 0.0)  # every checkout counts as idle
    proxy, url = database_proxy
    client = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url}).test_client()
    # A missing item: every such read reaches the database (404s are never cached).
    assert client.get("/api/items/2147483647").status_code == 404

    proxy.stop()
    during = client.get("/api/items/2147483647")
    proxy.start()
    after = client.get("/api/items/2147483647")

    assert during.status_code == 503
    assert during.mimetype == "application/problem+json"
    assert after.status_code == 404


def test_a_database_restart_while_idle_costs_no_failed_request(database_proxy, monkeypatch):
    monkeypatch.setattr(dbpool, "IDLE_PING_AFTER", 0.0)
    proxy, url = database_proxy
    client = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url}).test_client()
    assert client.get("/api/items/2147483647").status_code == 404

    proxy.stop()  # kills the pooled connection while nobody uses it
    proxy.start()
    after = client.get("/api/items/2147483647")

    assert after.status_code == 404


def test_reads_run_in_autocommit_and_other_requests_in_a_transaction(app, database_url):
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    instance = create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url})
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, *_args: Any) -> None:
        seen.append((request.method, conn.connection.driver_connection.autocommit))

    with instance.app_context():
        event.listen(_db.engine, "before_cursor_execute", record)
    client = instance.test_client()

    client.get("/api/items/2147483647")
    client.post("/auth/token", json={"username": "nobody", "password": "whatever-it-is"})
    client.get("/api/users/2147483647")

    assert seen == [("GET", True), ("POST", False), ("GET", True)]
