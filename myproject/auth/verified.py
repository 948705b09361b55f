"""``REQUIRE_VERIFIED_EMAIL``: writes under ``/api`` need a verified address (API.md "Email
verification"), except to the caller's own user, so that they can still fix their address."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type

WRITES = frozenset({"post", "put", "patch", "delete"})
OWN_USER = "users.UserById"
UNVERIFIED = (
    "Verify your email address first: follow the link in the verification email "
    "(POST /auth/verify-email/resend sends a new one)."
)


def is_guarded(view: Callable[..., Any], url_prefix: str | None) -> bool:
    """Whether ``view`` (a method of a resource class) is a write under /api."""
    return view.__name__ in WRITES and (url_prefix or "").startswith("/api")


def verified_email_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Runs after the token check: 403 for a caller whose address is not verified, when the
    setting is on, unless the write is to the caller's own user."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        caller = g.get("caller")
        if (
            current_app.config["REQUIRE_VERIFIED_EMAIL"]
            and caller is not None
            and not caller.email_verified
            and not (request.endpoint == OWN_USER and kwargs.get("user_id") == caller.id)
        ):
            abort(403, message=UNVERIFIED)
        return view(*args, **kwargs)

    return wrapper
