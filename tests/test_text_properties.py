"""Property: no text in any field of any endpoint produces a 500 (API.md, General rules).

Hypothesis draws strings from every Unicode category, lone surrogates and control characters
included; each answer must be a success or a 4xx problem, never a server error.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import PASSWORD

# Any character, plus a dense mix of the ones that break storage and encodings.
AWKWARD = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\u2028", "\ufeff", "é", "a"])
ANY_TEXT = st.one_of(
    st.text(st.characters(codec=None, categories=None), max_size=40),
    st.text(AWKWARD, min_size=1, max_size=8),
)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def send(client: Any, method: str, url: str, body: dict[str, Any], headers: Any = None) -> Any:
    return client.open(
        url,
        method=method,
        data=json.dumps(body),
        content_type="application/json",
        headers=headers or {},
    )


def assert_no_server_error(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("field", ["username", "email", "password"])
@SETTINGS
@given(text=ANY_TEXT)
def test_registration_text(client, field, text):
    body = {"username": "someone", "email": "someone@example.com", "password": PASSWORD}
    assert_no_server_error(send(client, "POST", "/api/users", {**body, field: text}))


@pytest.mark.parametrize("field", ["username", "password"])
@SETTINGS
@given(text=ANY_TEXT)
def test_login_text(client, user, field, text):
    body = {"username": user.username, "password": PASSWORD, field: text}
    assert_no_server_error(send(client, "POST", "/auth/token", body))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize("field", ["name", "description", "category"])
@SETTINGS
@given(text=ANY_TEXT)
def test_item_text(client, auth_headers, item, method, field, text):
    url = "/api/items" if method == "POST" else f"/api/items/{item.id}"
    body = {"name": "Lamp", field: text}
    assert_no_server_error(send(client, method, url, body, auth_headers))


@pytest.mark.parametrize("field", ["username", "email", "password", "current_password", "is_admin"])
@SETTINGS
@given(text=ANY_TEXT)
def test_user_update_text(client, user, auth_headers, field, text):
    url = f"/api/users/{user.id}"
    assert_no_server_error(send(client, "PATCH", url, {field: text}, auth_headers))


@pytest.mark.parametrize("param", ["q", "category", "sort", "cursor", "page", "per_page", "owner"])
@SETTINGS
@given(text=ANY_TEXT)
def test_list_query_text(client, param, text):
    # The bytes a client would send, percent-encoded (a surrogate as its 3 UTF-8-style bytes).
    value = quote(text.encode("utf-8", "surrogatepass"))
    assert_no_server_error(client.get(f"/api/items?{param}={value}"))


@SETTINGS
@given(key=ANY_TEXT.filter(lambda k: "\n" not in k and "\r" not in k))  # no HTTP client sends
def test_idempotency_key_text(client, auth_headers, key):
    headers = {
        **auth_headers,
        "Idempotency-Key": key.encode("utf-8", "surrogatepass").decode("latin-1"),
    }
    assert_no_server_error(send(client, "POST", "/api/items", {"name": "Lamp"}, headers))
