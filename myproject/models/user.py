from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import Boolean, Index, String, false, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from myproject.models.base import TimestampModel, UTCDateTime
from myproject.models.resource import Resource
from myproject.passwords import hash_password, verify_password

if TYPE_CHECKING:
    from myproject.models.item import Item


def password_hash_method() -> str:
    method: str = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt:32768:8:1")
    return method


class User(TimestampModel):
    __tablename__ = "users"
    __table_args__ = (
        # Usernames are unique ignoring case; emails are stored lower-case.
        Index("uq_users_username_lower", func.lower(text("username")), unique=True),
    )

    username: Mapped[str] = mapped_column(String(80), nullable=False)
    email: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Set when an SMTP server took the welcome email (myproject.jobs.emails).
    welcome_email_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The rate-limit tier (RATELIMIT_PREMIUM); it reaches the limiter through the token.
    is_premium: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )

    # Set by following the link of a verification email sent to the current address; an
    # email change clears it (myproject.verification).
    email_verified: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )

    items: Mapped[list[Item]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Item.id",
    )

    def __init__(self, **kwargs: Any) -> None:
        password = kwargs.pop("password", None)
        super().__init__(**kwargs)
        if password is not None:
            self.set_password(password)

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    @validates("email")
    def _store_lower_case(self, _key: str, email: str) -> str:
        return email.strip().lower()

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password, password_hash_method())

    def check_password(self, password: str) -> bool:
        if not self.password_hash:
            return False
        return verify_password(self.password_hash, password)

    def password_needs_rehash(self) -> bool:
        """True when the stored hash was made with other parameters than the configured ones."""
        return not self.password_hash.startswith(password_hash_method() + "$")

    def to_dict(self, private: bool = False) -> dict[str, Any]:
        """The user as clients receive it: public, or ``private`` for themself and admins
        (``UserPublicSchema`` / ``UserSchema`` document these; a test holds them equal)."""
        data: dict[str, Any] = {
            "id": self.id,
            "username": self.username,
            "created_at": self.created_at.isoformat(),
        }
        if private:
            data.update(
                email=self.email,
                email_verified=self.email_verified,
                is_active=self.is_active,
                is_admin=self.is_admin,
                is_premium=self.is_premium,
                updated_at=self.updated_at.isoformat(),
            )
        return data


USERS = Resource(
    User,
    title="User",
    serialize=lambda user: user.to_dict(private=True),  # the public one: ``to_dict()``
    view="users.UserById",
    id_arg="user_id",
    forbidden="Only the user themself or an admin may change this user.",
    cached=True,
    idempotent_creates=True,
    private=True,
    # Usernames are unique ignoring case (PostgreSQL's index; SQLite names the column).
    unique={
        "uq_users_username_lower": "username",
        "uq_users_email": "email",
        "users.email": "email",
        "users.username": "username",
    },
)
