"""Retention: the scheduler purges security events past SECURITY_EVENTS_DAYS, daily."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from myproject.jobs import tasks
from myproject.jobs.app import celery_settings
from myproject.models import SecurityEvent
from myproject.models.base import utcnow


def test_events_past_the_retention_are_purged(app, session, user, monkeypatch):
    monkeypatch.setitem(app.config, "SECURITY_EVENTS_DAYS", 30)
    now = utcnow()
    for days in (31, 29, 0):
        session.add(SecurityEvent(type="login", user_id=user.id, created_at=now - timedelta(days)))
    session.commit()

    assert tasks.purge_security_events() == 1

    kept = session.scalars(select(SecurityEvent.created_at).order_by(SecurityEvent.id)).all()
    assert kept == [now - timedelta(29), now]


def test_the_retention_defaults_to_a_year(app):
    assert app.config["SECURITY_EVENTS_DAYS"] == 365


def test_beat_purges_daily(app):
    entry = celery_settings(app.config)["beat_schedule"]["purge-security-events"]

    assert entry["task"] == tasks.purge_security_events_task.name
    assert entry["schedule"] == 24 * 3600
