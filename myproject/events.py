"""What must follow a commit hangs off the commit itself, not off each caller's memory.

Services change models and commit once. Every flush records which rows it created, updated
or deleted; when the transaction commits, the recorded changes go to every subscriber (the
response cache today) and one-off callbacks registered with ``on_commit`` run. A rollback
drops both, so nothing follows a write that did not happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

log = logging.getLogger(__name__)

CHANGES = "myproject_changes"
CALLBACKS = "myproject_on_commit"
SUBSCRIBERS = "myproject_after_commit"


@dataclass(frozen=True)
class Change:
    """One committed row change: ``table`` is the model's table name."""

    action: Literal["created", "updated", "deleted"]
    table: str
    id: Any


Subscriber = Callable[[list[Change]], None]


def subscribe(app: Flask, subscriber: Subscriber) -> None:
    """Call ``subscriber(changes)`` after every commit that changed rows (in the app context)."""
    app.extensions.setdefault(SUBSCRIBERS, []).append(subscriber)


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction commits; never on rollback."""
    session.info.setdefault(CALLBACKS, []).append(callback)


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _flush: UOWTransaction) -> None:
    changes: list[Change] = session.info.setdefault(CHANGES, [])
    for action, objects in (
        ("created", session.new),
        ("updated", (obj for obj in session.dirty if session.is_modified(obj))),
        ("deleted", session.deleted),
    ):
        for obj in objects:
            table = getattr(obj, "__tablename__", None)
            if table is not None:
                changes.append(Change(action, table, getattr(obj, "id", None)))  # type: ignore[arg-type]


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    changes: list[Change] = session.info.pop(CHANGES, [])
    callbacks: list[Callable[[], None]] = session.info.pop(CALLBACKS, [])
    if changes and has_app_context():
        for subscriber in current_app.extensions.get(SUBSCRIBERS, ()):
            _safely(subscriber, changes)
    for callback in callbacks:
        _safely(callback)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(CHANGES, None)
    session.info.pop(CALLBACKS, None)


def _safely(function: Callable[..., None], *args: Any) -> None:
    # The write is committed: a failing follower must not turn its answer into an error.
    try:
        function(*args)
    except Exception:
        log.exception("after-commit work failed")
