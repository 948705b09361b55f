"""schemathesis hooks for ``make fuzz`` / ``make fuzz-quick`` (``SCHEMATHESIS_HOOKS``).

Every generated request that needs a token gets one of a user registered just for it, so a
fuzzed logout, password change or account deletion never starves the requests after it.
``POST /auth/token/refresh`` gets that user's refresh token, every other operation its
access token.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import requests
import schemathesis

PASSWORD = "fuzz-password-1"


@schemathesis.auth(refresh_interval=None)
class FreshUser:
    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        base = os.environ["LIVE_SERVER_URL"]
        username = f"fuzz-{uuid.uuid4().hex[:16]}"
        account = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        requests.post(f"{base}/api/users", json=account, timeout=10).raise_for_status()
        login = {"username": username, "password": PASSWORD}
        answer = requests.post(f"{base}/auth/token", json=login, timeout=10)
        answer.raise_for_status()
        tokens: dict[str, str] = answer.json()
        return tokens

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        refresh = case.operation.path == "/auth/token/refresh"
        token = data["refresh_token"] if refresh else data["access_token"]
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
