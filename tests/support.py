"""Helpers shared by the tests (not fixtures)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

PASSWORD = "correct-horse-42"


class AuthActions:
    """Log in through the API and build Authorization headers (flaskr's AuthActions)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.client.post(
            "/auth/token", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        tokens: dict[str, Any] = response.get_json()
        return tokens

    def headers(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        return bearer(self.login(username, password)["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TempDatabase:
    """A PostgreSQL database created on enter and dropped on exit, next to ``base_url``'s."""

    def __init__(self, base_url: str) -> None:
        self.base = make_url(base_url)
        self.name = f"myproject_test_{uuid.uuid4().hex[:10]}"

    def _admin(self) -> psycopg.Connection[Any]:
        url = self.base.set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def __enter__(self) -> str:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return self.base.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
