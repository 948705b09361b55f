"""Composing and sending email: Jinja templates (a text and an HTML part), Flask-Mail.

Without ``MAIL_SERVER`` an email goes to the log instead of SMTP: in development the whole
email, reset link included, because reading it there is the point; in production only its
recipient and subject, never a usable token. Under TESTING, Flask-Mail records messages
(``mail.record_messages()``) instead of sending them.
"""

from __future__ import annotations

import logging
import smtplib
from urllib.parse import urlencode

from flask import current_app, render_template
from flask_mail import Connection, Message

from myproject import outbox
from myproject.auth.resets import token_for_email
from myproject.extensions import db
from myproject.models import OutboxEmail, User

log = logging.getLogger(__name__)


def compose(row: OutboxEmail) -> Message | None:
    """The email for an outbox row, or None when there is nothing to send any more (the
    account is gone or inactive, the reset was used, superseded or expired)."""
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if row.kind == outbox.WELCOME:
        return render("welcome", subject="Welcome to myproject!", recipient=user.email, user=user)
    if row.kind == outbox.PASSWORD_RESET:
        token = token_for_email(password_reset_id=row.password_reset_id, nonce=row.nonce)
        if token is None:
            return None
        base = current_app.config["PASSWORD_RESET_URL"]
        link = base + ("&" if "?" in base else "?") + urlencode({"token": token})
        minutes = max(1, current_app.config["PASSWORD_RESET_EXPIRES"] // 60)
        return render(
            "password_reset",
            subject="Reset your myproject password",
            recipient=user.email,
            user=user,
            link=link,
            minutes=minutes,
        )
    raise ValueError(f"unknown email kind {row.kind!r}")


def render(template: str, *, subject: str, recipient: str, **context: object) -> Message:
    """A message from ``templates/email/<template>.txt`` and ``.html``."""
    return Message(
        subject=subject,
        recipients=[recipient],
        body=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
    )


def send(message: Message) -> None:
    """Send ``message`` (or log it, without MAIL_SERVER).

    Raises smtplib.SMTPException or OSError when the server refuses it or cannot be reached.
    """
    state = current_app.extensions["mail"]
    if current_app.config["MAIL_SERVER"] is None and not state.suppress:
        _log(message)
        return
    with TimeoutConnection(state) as connection:
        message.send(connection)


def _log(message: Message) -> None:
    if current_app.config["ENV_NAME"] == "production":
        log.warning(
            "MAIL_SERVER is not set: email %r to %s not sent (its text is not logged)",
            message.subject,
            _recipients(message),
        )
        return
    log.info(
        "email (MAIL_SERVER is not set, so it is logged instead of sent)\nTo: %s\nSubject: %s"
        "\n\n%s",
        _recipients(message),
        message.subject,
        message.body,
    )


def _recipients(message: Message) -> str:
    return ", ".join(sorted(str(address) for address in message.send_to))


class TimeoutConnection(Connection):
    """Flask-Mail 0.10 opens SMTP connections without a timeout, so a stalled server would
    hold a worker forever; this one gives up after ``MAIL_TIMEOUT`` seconds."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        timeout = current_app.config["MAIL_TIMEOUT"]
        host: smtplib.SMTP | smtplib.SMTP_SSL
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host
