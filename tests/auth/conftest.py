"""Fixtures of the authentication tests."""

from __future__ import annotations

from typing import Any

import pytest

ALL = ["items:read", "items:write", "users:read", "users:write"]


@pytest.fixture()
def make_key(client, auth_headers):
    def factory(scopes: list[str] = ALL, headers: dict[str, str] | None = None, **body: Any):
        response = client.post(
            "/auth/api-keys",
            json={"name": "script", "scopes": scopes, **body},
            headers=headers or auth_headers,
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return factory
