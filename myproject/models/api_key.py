"""Personal access tokens (API keys): what a script presents instead of a password.

Only the SHA-256 of a key is stored. A key is ``mp_`` and 43 URL-safe characters of
``secrets.token_urlsafe(32)`` (256 random bits), so its hash cannot be reversed by guessing:
a slow password hash (scrypt) exists to protect *low-entropy* secrets, and would only make
every key check cost what a login costs. ``prefix`` (the first 8 characters) lets the owner
recognise a key without the key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from myproject.models.base import TimestampModel, UTCDateTime
from myproject.models.resource import Resource

SCOPES = ("items:read", "items:write", "users:read", "users:write")


class ApiKey(TimestampModel):
    __tablename__ = "api_keys"
    __allow_unmapped__ = True  # the plain attribute below is no column

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(8), nullable=False)
    scopes: Mapped[str] = mapped_column(String(100), nullable=False)  # space-separated
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # The key itself, on the instance that created it only (never stored): the 201 shows it.
    token: str | None = None

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} user={self.user_id} {self.prefix}...>"


def api_key_dict(key: ApiKey) -> dict[str, Any]:
    """The wire shape of a key (``ApiKeySchema``); ``token`` only in the answer that created it."""
    data: dict[str, Any] = {"id": key.id, "name": key.name, "scopes": key.scope_list}
    if key.token is not None:
        data["token"] = key.token
    data.update(
        prefix=key.prefix,
        created_at=key.created_at.isoformat(),
        expires_at=key.expires_at.isoformat(),
        last_used_at=key.last_used_at.isoformat() if key.last_used_at else None,
    )
    return data


API_KEYS = Resource(
    ApiKey,
    title="API key",
    serialize=api_key_dict,
    view="api_keys.ApiKeyById",
    id_arg="key_id",
    forbidden="Only the key's owner may manage it.",
    private=True,
)
