"""The document against the server: the rules it states are the ones the server applies
(patterns equal to the validators, required bodies, problem fields, the 401 challenge)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from marshmallow import ValidationError


@pytest.fixture()
def spec(client: Any) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


CONTROL_SAMPLES = ["plain", "tab\tnew\nline\r", "nul\x00", "bell\x07", "unit\x1f", "del\x7f", ""]


def test_control_characters_rule_is_documented_as_the_pattern_the_server_applies(spec):
    from myproject.schemas.fields import no_control_characters

    pattern = spec["components"]["schemas"]["ItemCreate"]["properties"]["name"]["pattern"]
    for sample in CONTROL_SAMPLES:
        try:
            no_control_characters(sample)
            accepted = True
        except ValidationError:
            accepted = False
        assert bool(re.search(pattern, sample)) == accepted, repr(sample)


def test_idempotency_key_pattern_agrees_with_the_server(spec):
    from myproject.idempotency import KEY_PATTERN

    parameter = next(p for p in spec["paths"]["/api/items"]["post"]["parameters"])
    pattern = parameter["schema"]["pattern"]
    # HTTP drops surrounding spaces, so the document asks for none; otherwise the same rule.
    for key in ["k", "retry-1", "a b", "x" * 255, "é", "tab\t", "~!"]:
        assert bool(re.search(pattern, key)) == bool(KEY_PATTERN.match(key)), repr(key)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/items/999999", 404),
        ("get", "/api/users/me", 401),
        ("get", "/api/items?per_page=0", 422),
        ("post", "/api/users", 415),
    ],
)
def test_problem_answers_carry_every_field_the_document_requires(
    client, spec, method, path, status
):
    required = set(spec["components"]["schemas"]["Problem"]["required"])

    response = getattr(client, method)(path, data="x", content_type="text/plain")

    assert response.status_code == status
    assert required == {"type", "title", "status", "detail", "instance", "request_id"}
    assert required <= set(response.get_json())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/api/users/{user}"),
        ("patch", "/api/items/{item}"),
        ("post", "/api/items"),
        ("post", "/auth/token"),
    ],
)
def test_a_documented_required_body_is_required(client, spec, auth_headers, user, method, path):
    from myproject.models import Item

    item = Item.create(user=user, name="Lamp", description=None, category=None)
    template = path.replace("{user}", "{user_id}").replace("{item}", "{item_id}")
    url = path.format(user=user.id, item=item.id)

    response = getattr(client, method)(url, headers=auth_headers)

    assert spec["paths"][template][method]["requestBody"]["required"] is True
    assert response.status_code == 400
    assert response.get_json()["detail"] == "A JSON request body is required."


def test_401_documents_and_sends_the_bearer_challenge(client, spec):
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]

    response = client.get("/api/users/me")

    challenge = unauthorized["headers"]["WWW-Authenticate"]["$ref"].rsplit("/", 1)[1]
    assert spec["components"]["headers"][challenge]["required"] is True
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_login_name_with_a_control_character_is_a_422_naming_it(client, spec):
    documented = spec["components"]["schemas"]["Login"]["properties"]["username"]

    response = client.post("/auth/token", json={"username": "al\x00ice", "password": "secret-1"})

    assert "pattern" in documented
    assert response.status_code == 422
    assert "username" in response.get_json()["errors"]["json"]
