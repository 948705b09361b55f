"""The outbox without a broker: SMTP failures, backoff, the failed state, the relay, the
`flask outbox` commands, and delivery that a duplicate job cannot repeat."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from myproject.jobs import tasks
from myproject.models import OutboxEmail
from myproject.models.base import utcnow
from tests.jobs.support import register, smtp_down


def only_row(db) -> OutboxEmail:
    db.session.expire_all()
    return db.session.scalars(select(OutboxEmail)).one()


def outbox_cli(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=["outbox", *args])


def test_smtp_failure_keeps_the_email_pending_with_a_backoff(make_app, db):
    app = make_app(**smtp_down(MAIL_RETRY_BACKOFF=30))

    response = register(app.test_client())

    assert response.status_code == 201
    row = only_row(db)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at - utcnow() > timedelta(seconds=25)


def test_email_is_marked_failed_once_the_retry_window_is_over(make_app, db, caplog):
    app = make_app(**smtp_down(MAIL_RETRY_FOR=0))

    with caplog.at_level(logging.ERROR, logger="myproject.jobs.outbox"):
        register(app.test_client())

    assert only_row(db).status == "failed"
    assert "failed after 1 attempts" in caplog.text


def test_outbox_command_shows_pending_and_failed_counts(make_app):
    app = make_app(**smtp_down(MAIL_RETRY_FOR=0))
    register(app.test_client(), "first")
    register(make_app(**smtp_down()).test_client(), "second")

    result = outbox_cli(app)

    assert result.exit_code == 0, result.output
    assert "pending: 1" in result.output
    assert "failed: 1" in result.output


def test_outbox_retry_sends_failed_emails_again(make_app, db, sent):
    register(make_app(**smtp_down(MAIL_RETRY_FOR=0)).test_client())

    result = outbox_cli(make_app(), "retry")

    assert result.exit_code == 0, result.output
    assert "re-queued 1 failed" in result.output
    assert len(sent) == 1
    assert only_row(db).status == "sent"


def test_relay_takes_back_an_email_whose_worker_died(make_app, db, sent):
    register(make_app(**smtp_down()).test_client())
    claimed_long_ago = utcnow() - timedelta(seconds=600)
    db.session.execute(update(OutboxEmail).values(status="sending", claimed_at=claimed_long_ago))
    db.session.commit()

    result = outbox_cli(make_app(OUTBOX_LEASE=120), "retry")

    assert "1 overdue" in result.output
    assert len(sent) == 1


def test_relay_leaves_a_live_claim_alone(make_app, db, sent):
    register(make_app(**smtp_down()).test_client())
    db.session.execute(update(OutboxEmail).values(status="sending", claimed_at=utcnow()))
    db.session.commit()

    result = outbox_cli(make_app(OUTBOX_LEASE=120), "retry")

    assert "0 overdue" in result.output
    assert sent == []


def test_a_duplicate_job_sends_nothing_more(client, db, sent):
    register(client)
    row_id = only_row(db).id

    tasks.deliver_email(row_id)

    assert len(sent) == 1
