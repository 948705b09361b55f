"""The HTTP side of the response cache: ``cached_get`` serves public GETs from
``myproject.caching`` (which keeps the entries valid across writes, instances and outages)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, request

from myproject.caching import lookup, redis_keys, store

CACHED_HEADERS = ("Content-Type", "X-Total-Count", "X-Total-Count-Lower-Bound", "Link", "ETag")
PREFETCHED = "cache_prefetched"  # ``g``: raw values the rate limit script read for the lookup

F = TypeVar("F", bound=Callable[..., Any])


def _has_credentials() -> bool:
    cookie_name = current_app.config.get("JWT_ACCESS_COOKIE_NAME", "access_token_cookie")
    return "Authorization" in request.headers or cookie_name in request.cookies


def _name() -> str:
    return f"{request.host}:{request.full_path}"


def cached_get(*, anonymous_only: bool = False) -> Callable[[F], F]:
    """Serve a GET from the cache; store its 200 answers. Conditional GETs still answer 304.

    ``anonymous_only``: the answer depends on the caller, so only tokenless requests use the
    cache (a private representation is never stored or served to someone else).
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _uses_cache(anonymous_only):
                return view(*args, **kwargs)
            key, stored = lookup("resp", _name(), g.pop(PREFETCHED, None))
            if stored is not None:
                status, body, headers = stored
                return Response(body, status=status, headers=headers).make_conditional(request)
            response = current_app.make_response(view(*args, **kwargs))
            if key is not None and response.status_code == 200:
                headers = {h: response.headers[h] for h in CACHED_HEADERS if h in response.headers}
                store(key, (200, response.get_data(), headers))
            return response.make_conditional(request) if response.status_code == 200 else response

        wrapper.response_cache_anonymous_only = anonymous_only  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def _uses_cache(anonymous_only: bool) -> bool:
    return request.method == "GET" and not (anonymous_only and _has_credentials())


def prefetch_keys() -> tuple[str, ...]:
    """The raw Redis keys the ``cached_get`` view of this request will read, for the rate
    limit script to fetch in its round trip (``myproject.ratelimit_window``); () when the
    view does not use the cache, or when the cache and the limiter use different Redis
    databases. The values go to ``g`` under ``PREFETCHED``."""
    rule = request.url_rule
    if request.method != "GET" or rule is None:
        return ()
    config = current_app.config
    if config.get("CACHE_REDIS_URL") != config.get("RATELIMIT_STORAGE_URI"):
        return ()
    view = current_app.view_functions.get(rule.endpoint)
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, "get", None) if view_class is not None else view
    anonymous_only = getattr(handler, "response_cache_anonymous_only", None)
    if anonymous_only is None or not _uses_cache(anonymous_only):
        return ()
    return redis_keys("resp", _name()) or ()
