"""Browser-facing headers on every answer, no-store on token answers, readiness that answers
from recent checks, and the Swagger UI assets under the anonymous limit (issue 21)."""

from __future__ import annotations

import time

import pytest

from myproject import create_app
from myproject.health import CHECKS
from tests.support import bearer
from tests.test_ratelimit import make_app

__all__ = ["make_app"]  # a fixture, used by name

BROWSER = {
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "X-Content-Type-Options": "nosniff",
}
HSTS = "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize(
    "path",
    ["/health", "/health/ready", "/api/items", "/api/nowhere", "/api/docs", "/api/protected"],
)
def test_every_answer_carries_the_browser_headers(client, path):
    response = client.get(path)

    for name, value in BROWSER.items():
        assert response.headers[name] == value, name
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_https_answers_carry_hsts(client):
    response = client.get("/api/items", base_url="https://localhost")

    assert response.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.parametrize(("hops", "hsts"), [(1, HSTS), (0, None)])
def test_hsts_follows_a_trusted_proxy_only(database_url, hops, hsts):
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url, "TRUSTED_PROXIES": hops})

    response = app.test_client().get("/health", headers={"X-Forwarded-Proto": "https"})

    assert response.headers.get("Strict-Transport-Security") == hsts


def test_hsts_seconds_sets_the_age_and_zero_turns_it_off(database_url):
    for seconds, expected in ((300, "max-age=300; includeSubDomains"), (0, None)):
        app = create_app(
            "testing", {"SQLALCHEMY_DATABASE_URI": database_url, "HSTS_SECONDS": seconds}
        )
        response = app.test_client().get("/health", base_url="https://localhost")
        assert response.headers.get("Strict-Transport-Security") == expected


@pytest.mark.parametrize("path", ["/api/protected", "/api/users/me"])
def test_answers_to_a_token_are_no_store(client, tokens, path):
    response = client.get(path, headers=bearer(tokens["access_token"]))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_public_reads_are_not_no_store(client):
    response = client.get("/api/items")

    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_readiness_answers_from_checks_at_most_1_s_old(app, client, sql_statements):
    app.extensions.pop(CHECKS, None)
    try:
        assert client.get("/health/ready").status_code == 200
        ran = len(sql_statements)
        assert ran >= 1
        for _ in range(20):
            assert client.get("/health/ready").get_json()["status"] == "ok"
        assert len(sql_statements) == ran  # answered from the checks just made

        time.sleep(1.05)
        client.get("/health/ready")
        assert len(sql_statements) > ran  # older than 1 s: checked again
    finally:
        app.extensions.pop(CHECKS, None)


def test_swagger_ui_assets_count_against_the_anonymous_limit(make_app):
    client = make_app(RATELIMIT_ANONYMOUS="2 per minute").test_client()
    asset = "/api/docs/assets/swagger-ui.css"

    answers = [client.get(asset) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].mimetype == "application/problem+json"
    assert answers[2].headers["Retry-After"]
    assert client.get("/api/docs").status_code == 200  # the page itself is not counted


@pytest.mark.parametrize("path", ["/api/items", "/api/users", "/api/users/{user_id}/items"])
def test_openapi_lists_the_414_of_query_endpoints(client, path):
    document = client.get("/api/openapi.json").get_json()

    assert "414" in document["paths"][path]["get"]["responses"]
    answer = client.get(path.replace("{user_id}", "1") + "?q=" + "a" * 5000)
    assert answer.status_code == 414
    assert answer.mimetype == "application/problem+json"
