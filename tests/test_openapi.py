"""The OpenAPI document and the offline Swagger UI (API.md, *Operations*)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

API_PATHS = [
    "/api/users",
    "/api/users/{user_id}",
    "/api/users/me",
    "/api/users/{user_id}/items",
    "/api/items",
    "/api/items/{item_id}",
    "/api/protected",
    "/auth/token",
    "/auth/token/refresh",
    "/auth/logout",
    "/auth/logout-all",
    "/health",
    "/health/ready",
]
BEARER_OPERATIONS = [
    ("get", "/api/users/me"),
    ("patch", "/api/users/{user_id}"),
    ("delete", "/api/users/{user_id}"),
    ("get", "/api/protected"),
    ("post", "/api/items"),
    ("put", "/api/items/{item_id}"),
    ("patch", "/api/items/{item_id}"),
    ("delete", "/api/items/{item_id}"),
    ("post", "/auth/logout"),
    ("post", "/auth/logout-all"),
]
ASSET_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.fixture()
def spec(client: Any) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


@pytest.fixture()
def docs_html(client: Any) -> str:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return str(response.get_data(as_text=True))


def test_openapi_document_is_a_valid_openapi_3_spec(spec):
    assert spec["openapi"].startswith("3.")

    validate(spec)


@pytest.mark.parametrize("path", API_PATHS)
def test_openapi_lists_every_path_of_the_contract(spec, path):
    assert path in spec["paths"]


def test_openapi_declares_the_bearer_security_scheme(spec):
    schemes = spec["components"]["securitySchemes"]

    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"].lower() == "bearer"


@pytest.mark.parametrize(("method", "path"), BEARER_OPERATIONS)
def test_openapi_marks_token_operations_with_bearer_auth(spec, method, path):
    operation = spec["paths"][path][method]

    assert {"bearerAuth": []} in operation["security"]


def test_swagger_ui_references_only_local_assets(docs_html):
    references = [a or b for a, b in ASSET_REFERENCE.findall(docs_html)]

    assert references
    assert not re.search(r"https?://", docs_html)
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in references)
    assert "/api/openapi.json" in references


def test_swagger_ui_assets_are_served_by_the_app(client, docs_html):
    references = [a or b for a, b in ASSET_REFERENCE.findall(docs_html)]
    assets = [ref for ref in references if ref.endswith((".js", ".css"))]

    assert any(ref.endswith(".js") for ref in assets)
    assert any(ref.endswith(".css") for ref in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.get_data()


def test_missing_swagger_ui_asset_is_404(client):
    response = client.get("/api/docs/assets/no-such-file.js")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_error_answers_are_documented_as_problem_json(spec):
    not_found = spec["components"]["responses"]["NOT_FOUND"]
    item_get = spec["paths"]["/api/items/{item_id}"]["get"]["responses"]

    assert list(not_found["content"]) == ["application/problem+json"]
    assert not_found["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert {"404", "429", "503"} <= set(item_get)


def test_list_headers_and_idempotency_key_are_documented(spec):
    items = spec["paths"]["/api/items"]

    assert {"X-Total-Count", "Link"} <= set(items["get"]["responses"]["200"]["headers"])
    assert "Idempotency-Key" in [p["name"] for p in items["post"]["parameters"]]
