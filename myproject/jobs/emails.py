"""The email kinds: one entry in ``KINDS`` each, and its two templates
``templates/email/<kind>.txt`` and ``.html``.

An entry states the subject, the outbox fields its row must carry besides the user, how to
build the template context from the row (None: nothing to send any more), and optionally the
``User`` column that records when it was sent, and how the job finds the account of a row
recorded without one (a password reset request: the request itself looks nobody up). The
templates always get ``user``; the email goes to ``data["to"]`` when the row has it (a notice
to the address the account had before a change), else to the account's address. A service
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

from myproject.accounts import bind_password_reset, reset_token_for_email, verify_token_for_email
from myproject.extensions import db
from myproject.models import EmailVerification, OutboxEmail, User

Context = Callable[[OutboxEmail, User], dict[str, Any] | None]
Bind = Callable[[OutboxEmail], User | None]


@dataclass(frozen=True)
class EmailKind:
    name: str  # also the templates' name
    subject: str
    context: Context
    needs: tuple[str, ...] = ()  # OutboxEmail columns the context reads, besides user_id
    user_sent_at: str | None = None  # User column set to the time it was sent (by SMTP)
    bind: Bind | None = None  # finds the account of a row recorded without one


def link(setting: str, token: str) -> str:
    base: str = current_app.config[setting]
    return base + ("&" if "?" in base else "?") + urlencode({"token": token})


def verify_context(row: OutboxEmail, user: User) -> dict[str, Any] | None:
    """The verification link; None once it was used or superseded, has expired, or is for
    another address than the account's."""
    token = verify_token_for_email(email_verification_id=row.email_verification_id, nonce=row.nonce)
    record = db.session.get(EmailVerification, row.email_verification_id or 0)
    if token is None or record is None or record.email != user.email:
        return None
    hours = max(1, current_app.config["EMAIL_VERIFY_EXPIRES"] // 3600)
    return {"verify_link": link("EMAIL_VERIFY_URL", token), "hours": hours}


def welcome_context(row: OutboxEmail, user: User) -> dict[str, Any]:
    """The welcome, with the verification link while it can still be used."""
    return verify_context(row, user) or {"verify_link": None}


WHAT_CHANGED = {
    "password": "The password",
    "email": "The email address",
    "password_reset": "The password (through a password reset link)",
}


def notice_context(row: OutboxEmail, _user: User) -> dict[str, Any]:
    data = row.data or {}
    return {
        "what": WHAT_CHANGED.get(data.get("change", ""), "A setting"),
        "when": str(data.get("at", ""))[:16].replace("T", " "),
        "ip": data.get("ip") or "unknown",
    }


def password_reset_context(row: OutboxEmail, _user: User) -> dict[str, Any] | None:
    """The reset link; None once the reset was used, superseded or expired."""
    token = reset_token_for_email(password_reset_id=row.password_reset_id, nonce=row.nonce)
    if token is None:
        return None
    minutes = max(1, current_app.config["PASSWORD_RESET_EXPIRES"] // 60)
    return {"link": link("PASSWORD_RESET_URL", token), "minutes": minutes}


WELCOME, PASSWORD_RESET = "welcome", "password_reset"
VERIFY_EMAIL, ACCOUNT_NOTICE = "verify_email", "account_notice"
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
            needs=("nonce",),
            bind=bind_password_reset,
        ),
        EmailKind(
            VERIFY_EMAIL,
            "Verify your myproject email address",
            verify_context,
            needs=("email_verification_id", "nonce"),
        ),
        EmailKind(
            ACCOUNT_NOTICE,
            "Your myproject account was changed",
            notice_context,
            needs=("data",),
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
    if row.user_id is None:
        user = kind.bind(row) if kind.bind is not None else None
    else:
        user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    context = kind.context(row, user)
    if context is None:
        return None
    recipient = str((row.data or {}).get("to") or user.email)
    message = Message(
        subject=kind.subject,
        recipients=[recipient],
        body=render_template(f"email/{kind.name}.txt", user=user, **context),
        html=render_template(f"email/{kind.name}.html", user=user, **context),
    )
    if not recipient.isascii():  # a non-ASCII local part (accepted with MAIL_SMTPUTF8)
        message.mail_options = ["SMTPUTF8"]
    return message
