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


# --- the document is exact (issue 12) ------------------------------------------------------

UNLIMITED_PATHS = ("/health", "/health/ready")
RATE_LIMIT_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
COMPONENT_REF = re.compile(r"^#/components/(\w+)/(.+)$")


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = COMPONENT_REF.match(node["$ref"]).groups()  # type: ignore[union-attr]
        node = spec["components"][section][name]
    return node


def responses(spec: dict[str, Any], *, limited: bool | None = None):
    """(operation name, status, resolved response) for every documented answer."""
    for path, item in spec["paths"].items():
        if limited is not None and (path in UNLIMITED_PATHS) == limited:
            continue
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                yield f"{method.upper()} {path}", status, resolve(spec, response)


def headers_of(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resolve(spec, h) for name, h in response.get("headers", {}).items()}


def references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(references(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(references(value) for value in node))
    return set()


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def query_names(spec: dict[str, Any], path: str) -> set[str]:
    return {p["name"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}


def test_user_read_is_the_private_or_the_public_schema(spec):
    operation = spec["paths"]["/api/users/{user_id}"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]

    # Private first: a client trying the members in order keeps email as a declared field.
    assert schema == {"oneOf": [schema_ref("User"), schema_ref("UserPublic")]}
    assert operation["security"] == [{}, {"bearerAuth": []}]


def test_public_and_private_user_schemas_are_disjoint_and_exact(spec):
    public, private = (
        spec["components"]["schemas"]["UserPublic"],
        spec["components"]["schemas"]["User"],
    )

    assert set(public["required"]) == set(public["properties"]) == {"id", "username", "created_at"}
    assert public["additionalProperties"] is False
    assert set(private["required"]) == set(private["properties"])
    assert {"email", "is_active", "is_admin", "updated_at"} <= set(private["required"])


@pytest.mark.parametrize("name", ["User", "UserPublic", "Item", "Owner"])
def test_output_schemas_require_every_field_they_send(spec, name):
    schema = spec["components"]["schemas"][name]

    assert set(schema["required"]) == set(schema["properties"])


@pytest.mark.parametrize(
    ("path", "schema"), [("/api/users/me", "User"), ("/api/users", "UserPublic")]
)
def test_other_user_reads_name_one_schema(spec, path, schema):
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]

    assert schema_ref(schema) in (content["schema"], content["schema"].get("items"))


def test_every_201_documents_its_location(spec):
    created = [(name, r) for name, status, r in responses(spec) if status == "201"]

    assert {name for name, _ in created} == {
        "POST /api/items",
        "POST /api/users",
        "POST /auth/api-keys",
    }
    for name, response in created:
        assert headers_of(spec, response)["Location"]["required"] is True, name


def test_every_answer_with_an_item_documents_its_etag(spec):
    item = schema_ref("Item")
    with_item = [
        (name, status, r)
        for name, status, r in responses(spec)
        if r.get("content", {}).get("application/json", {}).get("schema") == item
    ]

    assert len(with_item) == 4  # GET 200, POST 201, PUT 200, PATCH 200
    for name, status, response in with_item:
        assert headers_of(spec, response)["ETag"]["required"] is True, (name, status)


def test_item_read_documents_if_none_match_and_its_304(spec):
    operation = spec["paths"]["/api/items/{item_id}"]["get"]
    parameter = next(p for p in operation["parameters"] if p["name"] == "If-None-Match")

    assert parameter["in"] == "header"
    assert parameter["required"] is False
    assert "content" not in operation["responses"]["304"]
    assert "ETag" in headers_of(spec, operation["responses"]["304"])


def test_every_rate_limited_answer_documents_the_rate_limit_headers(spec):
    for name, status, response in responses(spec, limited=True):
        assert RATE_LIMIT_HEADERS <= set(headers_of(spec, response)), (name, status)


def test_unlimited_probes_document_no_rate_limit_headers(spec):
    for name, status, response in responses(spec, limited=False):
        assert not RATE_LIMIT_HEADERS & set(headers_of(spec, response)), (name, status)


def test_429_and_503_document_retry_after(spec):
    for name, status, response in responses(spec, limited=True):
        if status in ("429", "503"):
            assert headers_of(spec, response)["Retry-After"]["required"] is True, (name, status)


def test_every_operation_lists_its_statuses_without_a_default(spec):
    for name, _status, _response in responses(spec):
        method, path = name.split(" ")
        assert "default" not in spec["paths"][path][method.lower()]["responses"], name


def test_no_component_is_unused(spec):
    used = references({k: v for k, v in spec.items() if k != "components"})
    # Components referenced from used components count too (e.g. Problem, Owner).
    while True:
        more = used | set().union(
            *(references(resolve(spec, {"$ref": ref})) for ref in used if COMPONENT_REF.match(ref))
        )
        if more == used:
            break
        used = more
    for section in ("schemas", "responses", "headers", "parameters"):
        for name in spec["components"].get(section, {}):
            assert f"#/components/{section}/{name}" in used, f"{section}/{name}"
    assert "PaginationMetadata" not in spec["components"]["schemas"]


def test_user_items_do_not_offer_the_owner_filter(spec):
    assert "owner" in query_names(spec, "/api/items")
    assert "owner" not in query_names(spec, "/api/users/{user_id}/items")
    assert query_names(spec, "/api/users/{user_id}/items") == query_names(spec, "/api/items") - {
        "owner"
    }


@pytest.mark.parametrize("path", ["/api/items", "/api/users/{user_id}/items"])
def test_sort_is_one_enum_with_readable_member_names(spec, path):
    sort = next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "sort")
    enum = spec["components"]["schemas"]["ItemSort"]

    assert sort["schema"] == schema_ref("ItemSort")
    assert "-created_at" in enum["enum"]
    assert len(enum["x-enum-varnames"]) == len(enum["enum"])
    assert all(re.fullmatch(r"[A-Z][A-Z_]*", name) for name in enum["x-enum-varnames"])
