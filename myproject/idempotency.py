"""``Idempotency-Key`` storage: a retried POST replays the first answer, creating nothing.

The key is reserved in the database (unique per caller) before the work starts, so a
concurrent duplicate finds the reservation and gets 409 instead of running twice. The answer
is stored in the write's own transaction (a ``before_commit`` hook renders the created row of
the resource declared ``idempotent_creates``), so a retry after a committed write always
replays it, even when the worker died right after the commit. A reservation without an answer
that is older than the request timeout belongs to a request that died before committing
anything: a retry takes it over. The HTTP side (reading the header, the view decorator) is
``myproject.api.idempotency``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import events
from myproject.extensions import db
from myproject.models import IdempotencyKey
from myproject.models.base import utcnow
from myproject.models.resource import resource_of

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x20-\x7e]{1,255}$")
LIFETIME = timedelta(hours=24)
IN_PROGRESS = "A request with this Idempotency-Key is still being processed."


class Answer(NamedTuple):
    """A stored answer: what a retry gets back."""

    status: int
    body: str
    headers: dict[str, str]


def reserve(scope: str, key: str, fingerprint: str) -> IdempotencyKey:
    """Reserve ``key`` for ``scope`` (a fresh record: ``status`` None), or return the answered
    record of an earlier request with it; 409 while that one is in progress, 422 when it had
    another ``fingerprint`` (request)."""
    for _ in range(2):
        record = IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint)
        db.session.add(record)
        try:
            db.session.commit()
            return record
        except IntegrityError:
            db.session.rollback()
        existing = db.session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
        if existing is None:
            continue  # finished and removed meanwhile: try again
        if existing.created_at < utcnow() - LIFETIME or _abandoned(existing):
            # Conditional: of two retries taking over one reservation, one deletes it.
            db.session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.id == existing.id,
                    IdempotencyKey.created_at == existing.created_at,
                )
            )
            db.session.commit()
            continue
        if existing.fingerprint != fingerprint:
            abort(
                422,
                message="This Idempotency-Key was used with a different request body.",
                errors={"headers": {HEADER: ["Already used with a different request."]}},
            )
        if existing.status is None:
            abort(409, message=IN_PROGRESS)
        return existing
    abort(409, message=IN_PROGRESS)


def _abandoned(record: IdempotencyKey) -> bool:
    """No answer after the request timeout: its request died before committing the write."""
    timeout = timedelta(seconds=current_app.config["REQUEST_TIMEOUT"])
    return record.status is None and record.created_at < utcnow() - timeout


def answer_with_the_write(record_id: int, render: Callable[[Any], Answer]) -> None:
    """Store ``render(row)`` on the reservation in the transaction that creates the row (the
    first created row of a resource declared ``idempotent_creates``)."""

    def store(session: Session) -> None:
        session.flush()
        for change in events.changes(session):
            resource = resource_of(change.table)
            if change.action == "created" and resource and resource.idempotent_creates:
                created = session.get(resource.model, change.id)
                record = session.get(IdempotencyKey, record_id)
                if created is not None and record is not None:
                    record.status, record.body, headers = render(created)
                    record.headers = json.dumps(headers)
                return

    events.before_commit(db.session, store)


def answered(record_id: int) -> Answer | None:
    """The answer stored on the reservation, if its write committed."""
    record = db.session.get(IdempotencyKey, record_id)
    if record is None or record.status is None:
        return None
    return stored_answer(record)


def stored_answer(record: IdempotencyKey) -> Answer:
    return Answer(record.status or 0, record.body or "", json.loads(record.headers or "{}"))


def release(record_id: int) -> None:
    """Forget a reservation whose request wrote nothing (an answered one stays)."""
    db.session.rollback()
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.id == record_id, IdempotencyKey.status.is_(None)
        )
    )
    db.session.commit()
