"""The email outbox: each email is a row written in the transaction of the change that
causes it, and a job delivers it after the commit.

Nothing is lost and, in normal operation, nothing goes out twice:

- the job first claims its row with a conditional UPDATE (pending -> sending), so a second
  copy of a job (a retry that raced the relay, a redelivered message) finds nothing to do;
- enqueueing happens after the commit and a broker outage is only logged: the relay (on beat,
  every ``OUTBOX_RELAY_INTERVAL`` seconds) re-enqueues pending rows that no worker took within
  that interval (at most ``RELAY_GRACE_MAX``), and rows a worker claimed more than
  ``OUTBOX_LEASE`` seconds ago without finishing (it died);
- an SMTP failure puts the row back to pending with an exponential backoff until
  ``MAIL_RETRY_FOR`` seconds after the first attempt, then marks it failed.

Without a broker, ``dispatch`` keeps the ids on the database session of the current app
context, and ``myproject.jobs.app`` delivers them once the request's response is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, func, select, update

from myproject import events
from myproject.extensions import db
from myproject.jobs.emails import kind_of
from myproject.models import OutboxEmail, User
from myproject.models.base import utcnow

log = logging.getLogger(__name__)

PENDING, SENDING, FAILED = "pending", "sending", "failed"
# Finished: an SMTP server took it; development wrote it to the log (no MAIL_SERVER); or
# there was nothing to send any more (the account went, the reset was used or replaced).
SENT, LOGGED, SKIPPED = "sent", "logged", "skipped"
STATUSES = (PENDING, SENDING, SENT, LOGGED, FAILED, SKIPPED)
DELIVER_TASK = "myproject.deliver_email"
RELAY_BATCH = 500
# A pending row younger than this may still have its first message in the queue. Capped, so
# that an email committed while the broker was down leaves within interval + 15 s of its return.
RELAY_GRACE_MAX = 15
# Ids whose delivery runs in this process once the request (or command) is over: no broker.
DEFERRED = "myproject_outbox_deferred"


def add_email(
    *,
    kind: str,
    user_id: int | None,
    password_reset_id: int | None = None,
    email_verification_id: int | None = None,
    nonce: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Record an email in the current transaction; its job is dispatched once that commits.
    ``user_id`` may be None only for a kind whose job finds the account (``bind``).

    Raises ValueError for an unknown kind, or without a field the kind needs.
    """
    fields = {
        "password_reset_id": password_reset_id,
        "email_verification_id": email_verification_id,
        "nonce": nonce,
        "data": data,
    }
    missing = [name for name in kind_of(kind).needs if fields[name] is None]
    if user_id is None and kind_of(kind).bind is None:
        missing.append("user_id")
    if missing:
        raise ValueError(f"a {kind!r} email needs {', '.join(missing)}")
    row = OutboxEmail(
        kind=kind,
        user_id=user_id,
        password_reset_id=password_reset_id,
        email_verification_id=email_verification_id,
        data=data,
        nonce=nonce,
        status=PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    row_id = row.id
    events.on_commit(db.session(), lambda: dispatch([row_id]))


def dispatch(ids: Sequence[int]) -> None:
    """Hand the rows over to their delivery jobs: to the broker, or without one to this
    process right after the current request. Never raises for a broker outage: the relay
    enqueues the rows again later."""
    if not ids:
        return
    if not current_app.config["CELERY_BROKER_URL"]:
        db.session().info.setdefault(DEFERRED, []).extend(ids)
        return
    celery = current_app.extensions["celery"]
    for row_id in ids:
        try:
            celery.send_task(DELIVER_TASK, args=[row_id])
        except Exception as exc:  # any broker failure; the rows are safe in the database
            log.warning(
                "email %s not enqueued (%s: %s); the outbox relay will enqueue it",
                row_id,
                type(exc).__name__,
                exc,
            )
            return  # the broker is down: the next ones would only wait for the same timeout


def take_deferred() -> list[int]:
    """The ids ``dispatch`` kept for this process in this app context, forgetting them."""
    if not db.session.registry.has():  # no session: nothing was committed here
        return []
    ids: list[int] = db.session().info.pop(DEFERRED, [])
    return ids


def claim(row_id: int) -> OutboxEmail | None:
    """Take the row for delivery (pending -> sending) and commit; None when another job has
    it, it was sent, or it is gone."""
    now = utcnow()
    result = db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == row_id, OutboxEmail.status == PENDING)
        .values(
            status=SENDING,
            claimed_at=now,
            attempts=OutboxEmail.attempts + 1,
            first_attempt_at=func.coalesce(OutboxEmail.first_attempt_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.session.get(OutboxEmail, row_id)


def finish(row: OutboxEmail, *, status: str = SENT) -> None:
    """Record the outcome of a claimed row: ``sent`` (an SMTP server took it), ``logged`` or
    ``skipped``; a sent email also sets the User column its kind names."""
    now = utcnow()
    _update_claimed(row.id, status=status, sent_at=now if status == SENT else None)
    user_sent_at = kind_of(row.kind).user_sent_at
    if status == SENT and user_sent_at is not None:
        db.session.execute(
            update(User)
            .where(User.id == row.user_id)
            .values({user_sent_at: now})
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


def release_for_retry(row_id: int, error: BaseException) -> int | None:
    """After a failed attempt: back to pending with a backoff delay (returned, in seconds),
    or marked failed once ``MAIL_RETRY_FOR`` seconds have passed since the first attempt."""
    config = current_app.config
    row = db.session.get(OutboxEmail, row_id)
    if row is None or row.status != SENDING:
        return None
    now = utcnow()
    exponent = min(max(row.attempts - 1, 0), 16)
    delay: int = min(config["MAIL_RETRY_BACKOFF"] * 2**exponent, config["MAIL_RETRY_BACKOFF_MAX"])
    first = row.first_attempt_at or now
    give_up = now + timedelta(seconds=delay) > first + timedelta(seconds=config["MAIL_RETRY_FOR"])
    reason = f"{type(error).__name__}: {error}"[:255]
    kind, attempts = row.kind, row.attempts
    _update_claimed(
        row_id,
        status=FAILED if give_up else PENDING,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=reason,
    )
    db.session.commit()
    if give_up:
        log.error("email %s (%s) failed after %s attempts: %s", row_id, kind, attempts, reason)
        return None
    log.warning(
        "email %s (%s) attempt %s failed (%s); retry in %ss",
        row_id,
        kind,
        attempts,
        reason,
        delay,
    )
    return delay


def _update_claimed(row_id: int, **values: object) -> None:
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == row_id, OutboxEmail.status == SENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def relay() -> int:
    """Enqueue the rows no worker took in time (see the module doc); returns how many."""
    config = current_app.config
    now = utcnow()
    lease_over = now - timedelta(seconds=config["OUTBOX_LEASE"])
    overdue = now - timedelta(seconds=min(config["OUTBOX_RELAY_INTERVAL"], RELAY_GRACE_MAX))
    due: ColumnElement[bool] = (
        (OutboxEmail.status == PENDING) & (OutboxEmail.next_attempt_at <= overdue)
    ) | ((OutboxEmail.status == SENDING) & (OutboxEmail.claimed_at < lease_over))
    ids = list(
        db.session.scalars(
            select(OutboxEmail.id)
            .where(due)
            .order_by(OutboxEmail.id)
            .limit(RELAY_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        # Moving next_attempt_at keeps the next relay run from enqueueing them again.
        db.session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(ids), due)
            .values(status=PENDING, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        events.on_commit(db.session(), lambda: dispatch(ids))
        log.info("outbox relay: enqueueing %s email(s)", len(ids))
    db.session.commit()
    return len(ids)


def retry_failed() -> int:
    """Give failed rows a fresh set of attempts and enqueue them; returns how many."""
    ids = list(db.session.scalars(select(OutboxEmail.id).where(OutboxEmail.status == FAILED)))
    if ids:
        db.session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(ids), OutboxEmail.status == FAILED)
            .values(status=PENDING, attempts=0, first_attempt_at=None, next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        events.on_commit(db.session(), lambda: dispatch(ids))
    db.session.commit()
    return len(ids)


def counts() -> dict[str, int]:
    """Rows per status (every status present, zero when none)."""
    rows = db.session.execute(
        select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)
    ).all()
    found = {status: int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in STATUSES}
