"""The HTTP side of the response cache: ``cached_get`` serves public GETs from
``myproject.caching`` (which keeps the entries valid across writes, instances and outages)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, request

from myproject.caching import lookup, store

CACHED_HEADERS = ("Content-Type", "X-Total-Count", "Link", "ETag")

F = TypeVar("F", bound=Callable[..., Any])


def _has_credentials() -> bool:
    cookie_name = current_app.config.get("JWT_ACCESS_COOKIE_NAME", "access_token_cookie")
    return "Authorization" in request.headers or cookie_name in request.cookies


def cached_get(*, anonymous_only: bool = False) -> Callable[[F], F]:
    """Serve a GET from the cache; store its 200 answers. Conditional GETs still answer 304.

    ``anonymous_only``: the answer depends on the caller, so only tokenless requests use the
    cache (a private representation is never stored or served to someone else).
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            usable = request.method == "GET" and not (anonymous_only and _has_credentials())
            if not usable:
                return view(*args, **kwargs)
            key, stored = lookup("resp", f"{request.host}:{request.full_path}")
            if stored is not None:
                status, body, headers = stored
                return Response(body, status=status, headers=headers).make_conditional(request)
            response = current_app.make_response(view(*args, **kwargs))
            if key is not None and response.status_code == 200:
                headers = {h: response.headers[h] for h in CACHED_HEADERS if h in response.headers}
                store(key, (200, response.get_data(), headers))
            return response.make_conditional(request) if response.status_code == 200 else response

        return wrapper  # type: ignore[return-value]

    return decorator
