"""Helpers for the account tests: requests whose jobs run once the response is closed, as a
server does after sending it (no broker), and the emails they send."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.jobs.support import TOKEN_IN_LINK, post

__all__ = ["change", "links_in", "post", "resend", "to", "verify"]


def change(
    client: FlaskClient, user_id: int, body: dict[str, Any], headers: dict[str, str]
) -> TestResponse:
    """PATCH /api/users/<id>, its jobs run."""
    response = client.patch(f"/api/users/{user_id}", json=body, headers=headers)
    response.close()
    return response


def verify(client: FlaskClient, token: str, **kwargs: Any) -> TestResponse:
    return post(client, "/auth/verify-email", {"token": token}, **kwargs)


def resend(client: FlaskClient, headers: dict[str, str], **kwargs: Any) -> TestResponse:
    response = client.post("/auth/verify-email/resend", headers=headers, **kwargs)
    response.close()
    return response


def to(sent: list[Any], address: str, subject_part: str = "") -> list[Any]:
    """The recorded messages to ``address`` whose subject contains ``subject_part``."""
    return [m for m in sent if address in m.recipients and subject_part in m.subject]


def links_in(message: Any) -> list[str]:
    """Every token of a link in the message's text."""
    return TOKEN_IN_LINK.findall(message.body)
