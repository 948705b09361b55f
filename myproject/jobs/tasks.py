"""Background jobs: email delivery, the outbox relay, housekeeping.

Each job is a plain function wrapped in a Celery task. Celery runs tasks inside the Flask app
context (``myproject.jobs.app``); without a broker, ``run_deferred`` delivers in the web process.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from flask import current_app
from sqlalchemy import delete

from myproject import security_events
from myproject.api_keys import purge_expired_keys
from myproject.extensions import db
from myproject.idempotency import LIFETIME as IDEMPOTENCY_LIFETIME
from myproject.jobs import emails, mail, outbox
from myproject.models import (
    EmailVerification,
    IdempotencyKey,
    LoginSession,
    OutboxEmail,
    PasswordReset,
)
from myproject.models.base import utcnow

log = logging.getLogger(__name__)


def deliver_email(outbox_id: int) -> int | None:
    """Claim, compose and send one outbox email; the seconds until a retry when it failed."""
    row = outbox.claim(outbox_id)
    if row is None:
        return None  # sent, being sent by another job, or gone: this job is a duplicate
    kind, status = row.kind, outbox.SKIPPED
    try:
        message = emails.compose(row)
        # End the read transaction before the (slow) send: SQLite's writers must not wait.
        db.session.commit()
        if message is not None:
            status = outbox.SENT if mail.send(message) else outbox.LOGGED
    except Exception as exc:  # any failure is retried with backoff, then marked failed
        db.session.rollback()
        if not isinstance(exc, smtplib.SMTPException | OSError):
            log.exception("email %s (%s): composing or sending failed", outbox_id, kind)
        return outbox.release_for_retry(outbox_id, exc)
    outbox.finish(row, status=status)
    return None


@shared_task(name=outbox.DELIVER_TASK, bind=True, max_retries=None)
def deliver_email_task(self: Task, outbox_id: int) -> None:
    delay = deliver_email(outbox_id)
    if delay is not None:
        # If this new message is lost too, the row is still pending: the relay takes it.
        raise self.retry(countdown=delay)


@shared_task(name="myproject.relay_outbox")
def relay_outbox_task() -> int:
    return outbox.relay()


@shared_task(name="myproject.housekeeping")
def housekeeping_task() -> dict[str, int]:
    return purge_expired()


@shared_task(name="myproject.purge_security_events")
def purge_security_events_task() -> int:
    return purge_security_events()


def purge_security_events() -> int:
    """Daily: the security events past ``SECURITY_EVENTS_DAYS`` go."""
    purged = security_events.purge(older_than_days=current_app.config["SECURITY_EVENTS_DAYS"])
    log.info("security events: purged %s older than the retention", purged)
    return purged


def purge_expired() -> dict[str, int]:
    """Delete what nobody needs any more; returns the number of rows per table."""
    now = utcnow()
    retention = timedelta(days=current_app.config["OUTBOX_RETENTION_DAYS"])
    statements: dict[str, Any] = {
        "login_sessions": delete(LoginSession).where(LoginSession.expires_at < now),
        "api_keys": purge_expired_keys(now),
        "password_resets": delete(PasswordReset).where(
            (PasswordReset.expires_at < now) | PasswordReset.used_at.is_not(None)
        ),
        "email_verifications": delete(EmailVerification).where(
            (EmailVerification.expires_at < now) | EmailVerification.used_at.is_not(None)
        ),
        "idempotency_keys": delete(IdempotencyKey).where(
            IdempotencyKey.created_at < now - IDEMPOTENCY_LIFETIME
        ),
        "outbox_emails": delete(OutboxEmail).where(
            OutboxEmail.status.in_((outbox.SENT, outbox.LOGGED, outbox.SKIPPED)),
            OutboxEmail.updated_at < now - retention,
        ),
    }
    purged = {
        table: int(db.session.execute(statement).rowcount)  # type: ignore[attr-defined]
        for table, statement in statements.items()
    }
    db.session.commit()
    log.info("housekeeping: purged %s", purged)
    return purged


def run_deferred(_exc: BaseException | None = None) -> None:
    """Deliver the emails committed in this app context that are still waiting (no broker)."""
    run_jobs(outbox.take_deferred())


def run_jobs(ids: Sequence[int]) -> None:
    """Deliver these emails in this process (no broker); failures are logged, not raised."""
    for outbox_id in ids:
        try:
            delay = deliver_email(outbox_id)
        except Exception:  # the request is answered; a failure here is only logged
            log.exception("email %s: delivery in the web process failed", outbox_id)
            continue
        if delay is not None:
            log.warning(
                "email %s stays pending: without a broker nothing retries it; "
                "run `flask outbox retry` or a worker and beat",
                outbox_id,
            )
