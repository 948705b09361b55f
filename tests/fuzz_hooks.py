"""schemathesis hooks for ``make fuzz`` / ``make fuzz-quick`` (``SCHEMATHESIS_HOOKS``).

Requests that need a token get one of a single fuzz user, so the stateful phase can create an
item and then read, replace, update and delete that same item. schemathesis caches the tokens
and signs in again after a 401 (a fuzzed logout or refresh-token reuse ends the login); if the
user itself is gone (a fuzzed ``DELETE /api/users/<id>``), a new one is registered.
``POST /auth/token/refresh`` gets the refresh token, every other operation the access token.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import requests
import schemathesis

from myproject.idempotency import KEY_PATTERN

PASSWORD = "fuzz-password-1"


@schemathesis.auth()
class FuzzUser:
    def __init__(self) -> None:
        self.username: str | None = None

    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        base = os.environ["LIVE_SERVER_URL"]
        if self.username is not None:
            tokens = _login(base, self.username)
            if tokens is not None:
                return tokens
        self.username = f"fuzz-{uuid.uuid4().hex[:16]}"
        account = {"username": self.username, "email": f"{self.username}@example.com"}
        answer = requests.post(
            f"{base}/api/users", json={**account, "password": PASSWORD}, timeout=10
        )
        answer.raise_for_status()
        tokens = _login(base, self.username)
        assert tokens is not None, "a new fuzz user could not log in"
        return tokens

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        refresh = case.operation.path == "/auth/token/refresh"
        token = data["refresh_token"] if refresh else data["access_token"]
        headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        # One user sends every request, so generated keys ("0", "a") would be reused with other
        # bodies: a documented 422 that hides real findings. Valid keys become unique; invalid
        # ones stay as generated, for the negative cases.
        key = headers.get("Idempotency-Key")
        if isinstance(key, str) and KEY_PATTERN.match(key):
            headers["Idempotency-Key"] = f"{key[:200]}-{uuid.uuid4().hex}"
        case.headers = headers


def _login(base: str, username: str) -> dict[str, str] | None:
    login = {"username": username, "password": PASSWORD}
    answer = requests.post(f"{base}/auth/token", json=login, timeout=10)
    if answer.status_code != 200:
        return None
    tokens: dict[str, str] = answer.json()
    return tokens
