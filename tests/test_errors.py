"""Every error is RFC 9457 problem JSON carrying the request id (API.md, *Errors*)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from myproject import create_app, services
from myproject.config import engine_options
from myproject.models import Item
from tests.support import PASSWORD, SANE_REQUEST_ID, assert_problem

SECRET_TEXT = "kaboom-secret-token-hunter2"
UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/nope"


@pytest.fixture(scope="module")
def boom_app() -> Flask:
    """A throwaway app with a route that fails; exceptions are handled, as in production."""
    overrides = {
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        # create_app keeps the engine options of TEST_DATABASE_URL when only the URL is
        # overridden (PostgreSQL pool options break a SQLite engine), so pass matching ones.
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options("sqlite://"),
        "PROPAGATE_EXCEPTIONS": False,
    }
    application = create_app("testing", overrides)

    @application.get("/boom")
    def boom() -> Any:
        raise RuntimeError(SECRET_TEXT)

    return application


@pytest.fixture(scope="module")
def offline_app() -> Iterator[Flask]:
    """An app whose database cannot be reached (nothing listens on port 1)."""
    from myproject.extensions import db

    application = create_app("testing", {"SQLALCHEMY_DATABASE_URI": UNREACHABLE_DB})
    yield application
    with application.app_context():
        db.engine.dispose()


def test_malformed_json_is_400(client):
    response = client.post("/api/users", data='{"username": ', content_type="application/json")

    body = assert_problem(response, 400, "/api/users")
    assert "JSON" in body["detail"]


def test_missing_token_is_401_with_www_authenticate(client):
    response = client.get("/api/users/me")

    assert_problem(response, 401, "/api/users/me")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_someone_elses_account_is_403(client, make_user, auth_headers):
    other = make_user("bob")

    response = client.delete(f"/api/users/{other.id}", headers=auth_headers)

    assert_problem(response, 403, f"/api/users/{other.id}")


@pytest.mark.parametrize(
    "path", ["/no/such/route", "/api/nothing", "/api/users/abc", "/favicon.ico"]
)
def test_unknown_route_is_a_404_problem_not_html(client, path):
    response = client.get(path)

    assert_problem(response, 404, path)
    assert "<html" not in response.get_data(as_text=True).lower()


def test_missing_resource_404_names_it(client):
    response = client.get("/api/items/987654")

    body = assert_problem(response, 404, "/api/items/987654")
    assert "987654" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("delete", "/api/users", {"GET", "POST"}), ("put", "/api/users/me", {"GET"})],
)
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    response = getattr(client, method)(path)

    assert_problem(response, 405, path)
    allow = {part.strip() for part in response.headers["Allow"].split(",")}
    assert allowed <= allow
    assert method.upper() not in allow


def test_conflict_is_409(client, user):
    body = {"username": "Alice", "email": "new@example.com", "password": "long-enough-1"}

    response = client.post("/api/users", json=body)

    problem = assert_problem(response, 409, "/api/users")
    assert "username" in problem["detail"]


def test_stale_if_match_is_412(client, user, auth_headers):
    item = Item.create(user=user, name="lamp")

    response = client.patch(
        f"/api/items/{item.id}",
        json={"name": "changed"},
        headers={**auth_headers, "If-Match": '"stale-etag"'},
    )

    assert_problem(response, 412, f"/api/items/{item.id}")


def test_body_over_max_content_length_is_413(app, client):
    size = app.config["MAX_CONTENT_LENGTH"] + 1

    response = client.post("/api/users", data=b" " * size, content_type="application/json")

    assert_problem(response, 413, "/api/users")


def test_chunked_body_over_max_content_length_is_413(client):
    size = client.application.config["MAX_CONTENT_LENGTH"] + 10
    body = io.BytesIO(b'{"name": "' + b"x" * size + b'"}')

    response = client.post(
        "/api/users",
        input_stream=body,
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert_problem(response, 413, "/api/users")


@pytest.mark.parametrize("path", ["/api/users", "/auth/token"])
def test_json_nested_too_deeply_is_400_not_500(client, path):
    depth = 100_000

    response = client.post(path, data="[" * depth + "]" * depth, content_type="application/json")

    assert_problem(response, 400, path)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_body_is_415(client, content_type):
    response = client.post("/api/users", data="username=x", content_type=content_type)

    assert_problem(response, 415, "/api/users")


def test_invalid_json_body_is_422_with_errors_by_json_location(client):
    response = client.post("/api/users", json={"username": "x", "surprise": 1})

    body = assert_problem(response, 422, "/api/users")
    assert set(body["errors"]) == {"json"}
    assert {"username", "email", "password", "surprise"} <= set(body["errors"]["json"])
    assert all(isinstance(msgs, list) for msgs in body["errors"]["json"].values())


def test_invalid_query_is_422_with_errors_by_query_location(client):
    response = client.get("/api/users?per_page=1000")

    body = assert_problem(response, 422, "/api/users")
    assert set(body["errors"]) == {"query"}
    assert list(body["errors"]["query"]) == ["per_page"]


def test_unhandled_exception_is_500_without_internals(boom_app):
    response = boom_app.test_client().get("/boom")

    body = assert_problem(response, 500, "/boom")
    text = response.get_data(as_text=True)
    assert SECRET_TEXT not in text
    assert "Traceback" not in text and "RuntimeError" not in text
    assert SANE_REQUEST_ID.match(body["request_id"])


def test_unreachable_database_is_503_without_internals(offline_app):
    response = offline_app.test_client().get("/api/items")

    body = assert_problem(response, 503, "/api/items")
    text = response.get_data(as_text=True)
    assert "127.0.0.1" not in text and "psycopg" not in text.lower()
    assert "Traceback" not in text and "SELECT" not in text
    assert body["request_id"]


@pytest.mark.parametrize("request_id", ["abc-123", "trace.id_42", "x" * 128, "A"])
def test_sane_request_id_is_echoed_in_header_and_problem(client, request_id):
    response = client.get("/api/nothing", headers={"X-Request-ID": request_id})

    body = assert_problem(response, 404, "/api/nothing")
    assert response.headers["X-Request-ID"] == request_id
    assert body["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id", ["x" * 129, "has space", "<script>", "a/b", "id;drop", "", "ok\tid"]
)
def test_insane_request_id_is_replaced(client, request_id):
    response = client.get("/health", headers={"X-Request-ID": request_id})

    assert response.status_code == 200
    generated = response.headers["X-Request-ID"]
    assert generated != request_id
    assert SANE_REQUEST_ID.match(generated)


def test_each_request_gets_its_own_generated_id(client):
    first = client.get("/health")
    second = client.get("/health")

    assert first.status_code == second.status_code == 200
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_request_id_appears_in_log_lines_of_the_request(boom_app, caplog):
    caplog.set_level(logging.INFO)

    response = boom_app.test_client().get("/boom", headers={"X-Request-ID": "log-trace-7"})

    assert response.status_code == 500
    records = [r for r in caplog.records if "unhandled exception" in r.getMessage()]
    assert records
    assert all(getattr(r, "request_id", None) == "log-trace-7" for r in records)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_myproject", False)]
    assert "log-trace-7" in ours[0].format(records[0])


def test_request_id_appears_in_database_outage_log_line(offline_app, caplog):
    caplog.set_level(logging.INFO)

    response = offline_app.test_client().get("/api/items", headers={"X-Request-ID": "db-down-1"})

    assert response.status_code == 503
    records = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert records
    assert {getattr(r, "request_id", None) for r in records} == {"db-down-1"}


def test_no_content_answers_carry_no_content_type(client, auth_headers):
    response = client.post("/auth/logout", headers=auth_headers)

    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("username", {"username": "ALICE", "email": "new@example.com"}),
        ("email", {"username": "newcomer", "email": "alice@example.com"}),
    ],
)
def test_a_uniqueness_race_lost_in_the_database_is_409_naming_the_field(
    client, user, monkeypatch, field, body
):
    # Both requests passed the service's check; the unique index decides the second one.
    monkeypatch.setattr(services, "_ensure_unique", lambda **_: None)

    response = client.post("/api/users", json={**body, "password": PASSWORD})

    problem = assert_problem(response, 409, "/api/users")
    assert field in problem["detail"]
    assert client.get("/api/users").headers["X-Total-Count"] == "1"
