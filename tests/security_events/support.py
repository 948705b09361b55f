"""Helpers for the security event tests (not fixtures)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

MINE = "/api/users/me/security-events"
ALL = "/api/security-events"
AGENT = {"User-Agent": "audit-test-agent/1.0"}


def listing(client: FlaskClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(path, headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def types(client: FlaskClient, headers: dict[str, str], path: str = MINE, **params: Any) -> list:
    """The event types of a listing, newest first."""
    return [event["type"] for event in listing(client, path, headers, per_page=100, **params)]


def links(response: Any) -> dict[str, str]:
    """The Link header as rel -> URL."""
    found = re.findall(r'<([^>]*)>;\s*rel="([^"]+)"', response.headers["Link"])
    return {rel: url for url, rel in found}
