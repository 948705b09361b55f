"""CORS for the configured origins, and the security headers on every response."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from myproject import create_app
from tests.support import assert_problem

SPA = "https://spa.example"
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key"]
EXPOSED = [
    "Link",
    "X-Total-Count",
    "ETag",
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]


@pytest.fixture(scope="module")
def cors_app(app: Flask) -> Iterator[Flask]:
    from myproject.extensions import db

    application = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "CORS_ORIGINS": [SPA]},
    )
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture()
def cors_client(cors_app: Flask) -> Any:
    return cors_app.test_client()


def header_set(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def preflight(client: Any, origin: str, method: str = "POST", headers: str = "") -> Any:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return client.options("/api/users", headers=request_headers)


@pytest.mark.parametrize("method", CORS_METHODS)
def test_preflight_from_allowed_origin_allows_the_methods(cors_client, method):
    response = preflight(cors_client, SPA, method=method)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    allowed = header_set(response.headers.get("Access-Control-Allow-Methods"))
    assert {m.lower() for m in CORS_METHODS} <= allowed


def test_preflight_from_allowed_origin_allows_the_request_headers(cors_client):
    response = preflight(cors_client, SPA, method="PATCH", headers=", ".join(CORS_HEADERS))

    assert response.status_code == 200
    allowed = header_set(response.headers.get("Access-Control-Allow-Headers"))
    assert {h.lower() for h in CORS_HEADERS} <= allowed


@pytest.mark.parametrize("path", ["/health", "/api/no-such-route"])
def test_responses_to_allowed_origin_expose_the_api_headers(cors_client, path):
    response = cors_client.get(path, headers={"Origin": SPA})

    assert response.status_code in (200, 404)
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    exposed = header_set(response.headers.get("Access-Control-Expose-Headers"))
    assert {h.lower() for h in EXPOSED} <= exposed


@pytest.mark.parametrize("origin", [SPA, "https://evil.example"])
def test_cors_answers_vary_on_origin(cors_client, origin):
    # A shared HTTP cache must not hand one origin's CORS answer to another.
    response = cors_client.get("/health", headers={"Origin": origin})

    assert response.status_code == 200
    assert "origin" in header_set(response.headers.get("Vary"))


def test_preflight_answer_has_no_content_type(cors_client):
    response = preflight(cors_client, SPA, method="PATCH")

    assert response.status_code == 200
    assert response.data == b""
    assert "Content-Type" not in response.headers


@pytest.mark.parametrize("origin", ["https://evil.example", "http://spa.example", "null"])
def test_other_origins_get_no_cors_headers(cors_client, origin):
    responses = [
        preflight(cors_client, origin, method="DELETE", headers="Authorization"),
        cors_client.get("/health", headers={"Origin": origin}),
    ]

    for response in responses:
        assert response.status_code == 200
        assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


def test_no_cors_headers_when_no_origin_is_configured(client):
    response = preflight(client, SPA, method="GET")

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/health", {}, 200),
        ("get", "/api/users", {}, 200),
        ("get", "/api/users/me", {}, 401),
        ("get", "/api/nothing", {}, 404),
        ("delete", "/api/users", {}, 405),
        ("post", "/api/users", {"data": "x", "content_type": "text/plain"}, 415),
        ("post", "/api/users", {"json": {}}, 422),
        ("options", "/api/users", {}, 200),
        ("get", "/api/openapi.json", {}, 200),
        ("get", "/api/docs", {}, 200),
        ("get", "/api/docs/assets/swagger-ui.css", {}, 200),
    ],
)
def test_every_response_has_nosniff_and_csp(client, method, path, kwargs, status):
    response = getattr(client, method)(path, **kwargs)

    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_created_response_has_nosniff_and_csp(client):
    body = {"username": "carol", "email": "carol@example.com", "password": "long-enough-1"}

    response = client.post("/api/users", json=body)

    assert response.status_code == 201
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"]


def test_json_responses_forbid_everything_in_csp(client):
    response = client.get("/api/users")

    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_query_string_over_4_kib_is_a_414_problem(client):
    response = client.get("/api/items?q=" + "x" * 4100)

    assert_problem(response, 414)


def test_query_string_of_4_kib_is_served(client):
    response = client.get("/api/items?pad=" + "x" * (4096 - 4))

    assert response.status_code == 200


def test_the_app_leaves_date_to_the_server(client, item):
    first = client.get(f"/api/items/{item.id}")
    cached = client.get(f"/api/items/{item.id}")

    assert first.status_code == cached.status_code == 200
    assert "Date" not in first.headers and "Date" not in cached.headers
