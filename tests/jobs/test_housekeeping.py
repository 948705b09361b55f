"""Hourly housekeeping (jobs.tasks.purge_expired, run by beat): what expired goes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from myproject.jobs import tasks
from myproject.models import (
    ApiKey,
    EmailVerification,
    IdempotencyKey,
    LoginSession,
    OutboxEmail,
    PasswordReset,
)
from myproject.models.base import utcnow

HOUR = timedelta(hours=1)


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def rows(db, user):
    """One row that housekeeping must purge and one it must keep, in each table."""
    now = utcnow()
    old = now - timedelta(days=30)
    db.session.add_all(
        [
            LoginSession(user_id=user.id, refresh_jti="a", expires_at=now - HOUR),
            LoginSession(user_id=user.id, refresh_jti="b", expires_at=now + HOUR),
            PasswordReset(user_id=user.id, token_hash="1" * 64, expires_at=now - HOUR),
            PasswordReset(user_id=user.id, token_hash="2" * 64, expires_at=now + HOUR),
            EmailVerification(
                user_id=user.id, email=user.email, token_hash="4" * 64, expires_at=now - HOUR
            ),
            EmailVerification(
                user_id=user.id, email=user.email, token_hash="5" * 64, expires_at=now + HOUR
            ),
            IdempotencyKey(scope="s", key="old", fingerprint="f", created_at=now - 25 * HOUR),
            IdempotencyKey(scope="s", key="new", fingerprint="f", created_at=now - HOUR),
            *(
                ApiKey(
                    user_id=user.id,
                    name=name,
                    token_hash=name * 64,
                    prefix="mp_abcde",
                    scopes="items:read",
                    expires_at=expires,
                )
                for name, expires in (("x", now - HOUR), ("y", now + HOUR))
            ),
        ]
    )
    for status in ("sent", "failed"):
        db.session.add(
            OutboxEmail(
                kind="welcome",
                user_id=user.id,
                status=status,
                next_attempt_at=old,
                created_at=old,
                updated_at=old,
            )
        )
    db.session.commit()


def test_housekeeping_purges_only_what_expired(db, rows):
    purged = tasks.purge_expired()

    assert purged == {
        "login_sessions": 1,
        "api_keys": 1,
        "password_resets": 1,
        "email_verifications": 1,
        "idempotency_keys": 1,
        "outbox_emails": 1,
    }
    kept = (LoginSession, ApiKey, PasswordReset, EmailVerification, IdempotencyKey)
    assert [count(db, model) for model in kept] == [1] * 5
    assert db.session.scalars(select(OutboxEmail.status)).all() == ["failed"]


def test_housekeeping_purges_used_reset_tokens(db, user):
    reset_id = PasswordReset.create(
        user_id=user.id, token_hash="3" * 64, expires_at=utcnow() + HOUR, used_at=utcnow()
    ).id

    tasks.purge_expired()

    assert db.session.get(PasswordReset, reset_id) is None


def test_housekeeping_purges_used_verification_tokens(db, user):
    record_id = EmailVerification.create(
        user_id=user.id,
        email=user.email,
        token_hash="6" * 64,
        expires_at=utcnow() + HOUR,
        used_at=utcnow(),
    ).id

    tasks.purge_expired()

    assert db.session.get(EmailVerification, record_id) is None
