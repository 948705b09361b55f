"""``Idempotency-Key`` for POSTs: a retried request replays the first answer, creating nothing.

The key is reserved in the database (unique per caller) before the work starts, so a
concurrent duplicate finds the reservation and gets 409 instead of running twice. The answer
is stored in the write's own transaction (a ``before_commit`` hook renders the created row),
so a retry after a committed write always replays it, even when the worker died right after
the commit. A reservation without an answer that is older than the request timeout belongs
to a request that died before committing anything: a retry takes it over.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Response, current_app, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject import events
from myproject.api.responses import created_response
from myproject.extensions import db
from myproject.models import IdempotencyKey, Item, User
from myproject.models.base import utcnow
from myproject.openapi import IDEMPOTENCY_KEY, Blueprint
from myproject.ratelimit import client_address, token_claims

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x20-\x7e]{1,255}$")
LIFETIME = timedelta(hours=24)
REPLAYED_HEADERS = ("Location", "ETag", "Cache-Control")
IN_PROGRESS = "A request with this Idempotency-Key is still being processed."
# What an idempotent POST creates, by table: the row whose answer is stored.
CREATED_MODELS: dict[str, type[Item] | type[User]] = {"items": Item, "users": User}

F = TypeVar("F", bound=Callable[..., Any])


def _scope() -> str:
    claims = token_claims()
    return f"user:{claims['sub']}" if claims else f"addr:{client_address()}"


def _fingerprint() -> str:
    raw = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), canonical):
        digest.update(part + b"\0")
    return digest.hexdigest()


def _reserve(scope: str, key: str, fingerprint: str) -> IdempotencyKey | Response:
    """Reserve the key, or answer from an earlier request with it (replay, 409 or 422)."""
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
        return _replay(existing)
    abort(409, message=IN_PROGRESS)


def _abandoned(record: IdempotencyKey) -> bool:
    """No answer after the request timeout: its request died before committing the write."""
    timeout = timedelta(seconds=current_app.config["REQUEST_TIMEOUT"])
    return record.status is None and record.created_at < utcnow() - timeout


def _store_answer(record_id: int) -> Callable[[Session], None]:
    """A before-commit hook storing the 201 answer for the row the transaction created."""

    def store(session: Session) -> None:
        session.flush()
        for change in events.changes(session):
            model = CREATED_MODELS.get(change.table)
            if change.action == "created" and model is not None:
                created = session.get(model, change.id)
                record = session.get(IdempotencyKey, record_id)
                if created is not None and record is not None:
                    _remember(record, created_response(created))
                return

    return store


def _remember(record: IdempotencyKey, response: Response) -> None:
    record.status = response.status_code
    record.body = response.get_data(as_text=True)
    record.headers = json.dumps(
        {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
    )


def _replay(record: IdempotencyKey) -> Response:
    headers = json.loads(record.headers or "{}")
    return Response(record.body, status=record.status, headers=headers, mimetype="application/json")


def _release(record_id: int) -> None:
    """Forget a reservation whose request wrote nothing (an answered one stays)."""
    db.session.rollback()
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.id == record_id, IdempotencyKey.status.is_(None)
        )
    )
    db.session.commit()


def idempotent(blp: Blueprint) -> Callable[[F], F]:
    """Make a POST view honour ``Idempotency-Key`` and document the header.

    Only 2xx answers are kept for replay.
    """

    def decorator(view: F) -> F:
        return blp.doc(parameters=[IDEMPOTENCY_KEY])(_honour_key(view))  # type: ignore[no-any-return]

    return decorator


def _honour_key(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not KEY_PATTERN.match(key):
            abort(
                422,
                message="The Idempotency-Key header must be 1 to 255 printable characters.",
                errors={"headers": {HEADER: ["Must be 1 to 255 printable characters."]}},
            )
        reserved = _reserve(_scope(), key, _fingerprint())
        if isinstance(reserved, Response):
            return reserved
        record_id = reserved.id
        events.before_commit(db.session, _store_answer(record_id))
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            _release(record_id)
            raise
        record = db.session.get(IdempotencyKey, record_id)
        if record is not None and record.status is not None:
            return _replay(record)  # byte for byte what a retry will get
        _release(record_id)
        return response

    return wrapper  # type: ignore[return-value]
