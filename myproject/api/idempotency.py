"""The HTTP side of ``Idempotency-Key``: the view decorator that reads and checks the header,
documents it, and answers a retry from ``myproject.idempotency`` (which keeps the answers)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, request
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

from myproject.api.responses import created_response
from myproject.idempotency import (
    HEADER,
    KEY_PATTERN,
    Answer,
    answer_with_the_write,
    answered,
    release,
    reserve,
    stored_answer,
)
from myproject.openapi import IDEMPOTENCY_KEY, Blueprint
from myproject.ratelimit import client_address, token_claims

REPLAYED_HEADERS = ("Location", "ETag", "Cache-Control")

F = TypeVar("F", bound=Callable[..., Any])


def idempotent(blp: Blueprint) -> Callable[[F], F]:
    """Make a POST view honour ``Idempotency-Key`` and document the header.

    Only 2xx answers are kept for replay: the 201 of the row the POST created, rendered by
    ``created_response`` (the resource must be declared ``idempotent_creates``).
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
        reserved = reserve(_scope(), key, _fingerprint())
        if reserved.status is not None:
            return _replay(stored_answer(reserved))
        record_id = reserved.id
        answer_with_the_write(record_id, _render)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            release(record_id)
            raise
        stored = answered(record_id)
        if stored is not None:
            return _replay(stored)  # byte for byte what a retry will get
        release(record_id)
        return response

    return wrapper  # type: ignore[return-value]


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


def _render(created: Any) -> Answer:
    response = created_response(created)
    headers = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
    return Answer(response.status_code, response.get_data(as_text=True), headers)


def _replay(answer: Answer) -> Response:
    return Response(
        answer.body, status=answer.status, headers=answer.headers, mimetype="application/json"
    )
