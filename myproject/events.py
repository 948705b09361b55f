"""What must follow a commit hangs off the commit itself, not off each caller's memory.

Services change models and commit once. Every flush records which rows it created, updated
or deleted; when the transaction commits, the recorded changes go to every subscriber (the
response cache, Socket.IO) and one-off callbacks registered with ``on_commit`` run. A rollback
drops both, so nothing follows a write that did not happen. ``before_commit`` callbacks run
inside the transaction instead (an idempotent POST stores its answer with the write).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction, scoped_session

log = logging.getLogger(__name__)

CHANGES = "myproject_changes"
CALLBACKS = "myproject_on_commit"
BEFORE_COMMIT = "myproject_before_commit"
SUBSCRIBERS = "myproject_after_commit"
CAPTURERS = "myproject_capture"


Capturer = Callable[[Any], Any]


@dataclass(frozen=True)
class Change:
    """One committed row change: ``table`` is the model's table name."""

    action: Literal["created", "updated", "deleted"]
    table: str
    id: Any
    # What each ``capture`` asked to keep of the row at flush time, by capturer (after the
    # commit the session can no longer read it, and a deleted row is gone); not part of
    # equality.
    snapshots: Mapping[Capturer, Any] = field(default_factory=dict, compare=False)

    def snapshot(self, capturer: Capturer) -> Any:
        """What ``capturer`` kept of the row (None: not captured, or it raised)."""
        return self.snapshots.get(capturer)


Subscriber = Callable[[list[Change]], None]


def subscribe(app: Flask, subscriber: Subscriber) -> None:
    """Call ``subscriber(changes)`` after every commit that changed rows (in the app context)."""
    app.extensions.setdefault(SUBSCRIBERS, []).append(subscriber)


def capture(app: Flask, table: str, capturer: Capturer) -> None:
    """Keep ``capturer(obj)`` of every flushed change to ``table``, as
    ``change.snapshot(capturer)`` (None if it raises: a follower must never fail the write).
    Each table keeps every capturer registered for it; the same capturer runs once."""
    registered: list[Capturer] = app.extensions.setdefault(CAPTURERS, {}).setdefault(table, [])
    if capturer not in registered:
        registered.append(capturer)


def on_commit(session: Session | scoped_session[Any], callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction commits; never on rollback."""
    session.info.setdefault(CALLBACKS, []).append(callback)


def before_commit(
    session: Session | scoped_session[Any], callback: Callable[[Session], None]
) -> None:
    """Run ``callback(session)`` inside the current transaction, just before it commits
    (what it changes is committed with the rest, or not at all)."""
    session.info.setdefault(BEFORE_COMMIT, []).append(callback)


def changes(session: Session) -> list[Change]:
    """The changes flushed so far in the session's current transaction."""
    recorded: list[Change] = session.info.get(CHANGES, [])
    return recorded


@event.listens_for(Session, "before_commit")
def _run_before_commit(session: Session) -> None:
    for callback in session.info.pop(BEFORE_COMMIT, []):
        callback(session)


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _flush: UOWTransaction) -> None:
    recorded: list[Change] = session.info.setdefault(CHANGES, [])
    capturers = current_app.extensions.get(CAPTURERS, {}) if has_app_context() else {}
    for action, objects in (
        ("created", session.new),
        ("updated", (obj for obj in session.dirty if session.is_modified(obj))),
        ("deleted", session.deleted),
    ):
        for obj in objects:
            table = getattr(obj, "__tablename__", None)
            if table is not None:
                snapshots = {c: _captured(c, obj) for c in capturers.get(table, ())}
                recorded.append(Change(action, table, getattr(obj, "id", None), snapshots))  # type: ignore[arg-type]


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    committed: list[Change] = session.info.pop(CHANGES, [])
    callbacks: list[Callable[[], None]] = session.info.pop(CALLBACKS, [])
    if committed and has_app_context():
        for subscriber in current_app.extensions.get(SUBSCRIBERS, ()):
            _safely(subscriber, committed)
    for callback in callbacks:
        _safely(callback)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    for name in (CHANGES, CALLBACKS, BEFORE_COMMIT):
        session.info.pop(name, None)


def _captured(capturer: Capturer, obj: Any) -> Any:
    try:
        return capturer(obj)
    except Exception:
        log.exception("capturing a flushed row failed")
        return None


def _safely(function: Callable[..., None], *args: Any) -> None:
    # The write is committed: a failing follower must not turn its answer into an error.
    try:
        function(*args)
    except Exception:
        log.exception("after-commit work failed")
