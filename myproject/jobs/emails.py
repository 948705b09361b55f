"""The email kinds: one entry in ``KINDS`` each, and its two templates
``templates/email/<kind>.txt`` and ``.html``.

An entry states the subject, the outbox fields its row must carry besides the user, how to
build the template context from the row (None: nothing to send any more), and optionally the
``User`` column that records when it was sent. The templates always get ``user``. A service
records an email with ``outbox.add_email(kind=..., user_id=..., ...)`` in the transaction of
the change that causes it; nothing else names a kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app, render_template
from flask_mail import Message

from myproject.accounts import reset_token_for_email
from myproject.extensions import db
from myproject.models import OutboxEmail, User

Context = Callable[[OutboxEmail, User], dict[str, Any] | None]


@dataclass(frozen=True)
class EmailKind:
    name: str  # also the templates' name
    subject: str
    context: Context
    needs: tuple[str, ...] = ()  # OutboxEmail columns the context reads, besides user_id
    user_sent_at: str | None = None  # User column set to the time it was sent (by SMTP)


def welcome_context(_row: OutboxEmail, _user: User) -> dict[str, Any]:
    return {}


def password_reset_context(row: OutboxEmail, _user: User) -> dict[str, Any] | None:
    """The reset link; None once the reset was used, superseded or expired."""
    token = reset_token_for_email(password_reset_id=row.password_reset_id, nonce=row.nonce)
    if token is None:
        return None
    base = current_app.config["PASSWORD_RESET_URL"]
    link = base + ("&" if "?" in base else "?") + urlencode({"token": token})
    return {"link": link, "minutes": max(1, current_app.config["PASSWORD_RESET_EXPIRES"] // 60)}


WELCOME, PASSWORD_RESET = "welcome", "password_reset"
KINDS: dict[str, EmailKind] = {
    kind.name: kind
    for kind in (
        EmailKind(
            WELCOME,
            "Welcome to myproject!",
            welcome_context,
            user_sent_at="welcome_email_sent_at",
        ),
        EmailKind(
            PASSWORD_RESET,
            "Reset your myproject password",
            password_reset_context,
            needs=("password_reset_id", "nonce"),
        ),
    )
}


def kind_of(name: str) -> EmailKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown email kind {name!r}") from None


def compose(row: OutboxEmail) -> Message | None:
    """The email for an outbox row, or None when there is nothing to send any more (the
    account is gone or inactive, or the kind's context says so)."""
    kind = kind_of(row.kind)
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    context = kind.context(row, user)
    if context is None:
        return None
    return Message(
        subject=kind.subject,
        recipients=[user.email],
        body=render_template(f"email/{kind.name}.txt", user=user, **context),
        html=render_template(f"email/{kind.name}.html", user=user, **context),
    )
