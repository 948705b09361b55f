"""On a SQLite file (the `make run` default), a login right after a registration succeeds while
the welcome email is delivered in the same process (regression: it was a 503, the database
locked by the email job)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from tests.live_server import LiveServer


def post(url: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite lane only")
def test_registration_then_login_at_once_on_sqlite():
    with LiveServer() as server:
        statuses = []
        for n in range(5):
            user = {"username": f"fresh{n}", "email": f"fresh{n}@example.com"}
            statuses.append(post(f"{server.url}/api/users", {**user, "password": "long-enough-1"}))
            credentials = {"username": user["username"], "password": "long-enough-1"}
            statuses.append(post(f"{server.url}/auth/token", credentials))

    assert statuses == [201, 200] * 5
