"""Sending email through SMTP (Flask-Mail), or to the log without ``MAIL_SERVER``.

Without ``MAIL_SERVER``, development writes the whole email to the log, reset link included,
because reading it there is the point; production sends nothing and logs nothing of it: the
delivery fails (and is retried), so no email is ever marked sent unless an SMTP server took it.
Under TESTING, Flask-Mail records messages (``mail.record_messages()``) instead of sending them.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import formatdate, make_msgid

from flask import current_app
from flask_mail import Connection, Message

log = logging.getLogger(__name__)


class MailServerMissing(smtplib.SMTPException):
    """Production has no ``MAIL_SERVER``: the email cannot go anywhere."""


def send(message: Message) -> bool:
    """Send ``message``: True once an SMTP server took it, False when development only
    logged it (no MAIL_SERVER).

    Raises smtplib.SMTPException or OSError when the server refuses it or cannot be reached,
    MailServerMissing in production without MAIL_SERVER.
    """
    state = current_app.extensions["mail"]
    if current_app.config["MAIL_SERVER"] is None and not state.suppress:
        if current_app.config["ENV_NAME"] == "production":
            raise MailServerMissing("MAIL_SERVER is not set: nothing was sent")
        _log(message)
        return False
    with TimeoutConnection(state) as connection:
        if connection.host is not None and "SMTPUTF8" in message.mail_options:
            # Flask-Mail formats every address as ASCII; smtplib sends this one with SMTPUTF8
            # (and refuses, SMTPNotSupportedError, a server that does not offer it).
            connection.host.send_message(international(message))
        else:
            message.send(connection)
    return True


def international(message: Message) -> EmailMessage:
    """``message`` as a standard-library email whose addresses may hold non-ASCII."""
    email = EmailMessage(policy=SMTPUTF8)
    email["Subject"] = message.subject
    email["From"] = str(message.sender)
    email["To"] = ", ".join(str(address) for address in message.recipients)
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid()
    email.set_content(message.body)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


def _log(message: Message) -> None:
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
