"""Checks of settings that are URLs, rate-limit strings or one of a few words.

Each check raises ConfigError with one line that names the variable, so that ``flask``,
``gunicorn``, ``celery worker`` and ``celery beat`` all stop with that line instead of a
traceback from deep inside SQLAlchemy, redis-py, kombu or Flask-Limiter. Standard library only
(see the package docstring).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from .environment import ConfigError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# What the `limits` package (Flask-Limiter's parser) accepts: "10 per minute", "10/minute",
# "100 per 2 hours", several joined by "," ";" or "|".
_ONE_LIMIT = r"\s*[0-9]+\s*(?:/|per)\s*(?:[0-9]+\s*)?(?:second|minute|hour|day|month|year)s?\s*"
_LIMITS = re.compile(rf"^{_ONE_LIMIT}(?:[,;|]{_ONE_LIMIT})*$", re.IGNORECASE)

DATABASE_SCHEMES = ("postgresql", "postgres", "sqlite")
REDIS_SCHEMES = ("redis", "rediss", "unix")


def check_url(name: str, value: str, schemes: tuple[str, ...] | None = None) -> str:
    """``value`` if it is a URL (``scheme://...``, a valid port); else ConfigError."""
    example = f"{schemes[0]}://..." if schemes else "scheme://host:port/..."
    if not _SCHEME.match(value):
        raise ConfigError(f"{name} is not a URL (expected {example}), got {redact(value)!r}")
    parts = urlsplit(value)
    scheme = parts.scheme.lower().split("+", 1)[0]  # postgresql+psycopg: the dialect
    if schemes and scheme not in schemes:
        choices = ", ".join(f"{s}://" for s in schemes)
        raise ConfigError(f"{name} must start with one of {choices}, got {redact(value)!r}")
    if "," in parts.netloc:  # several hosts (libpq's failover list): each names its own port
        return value
    try:
        parts.port  # noqa: B018 (a property that validates the port)
    except ValueError:
        raise ConfigError(
            f"{name} has an invalid port (expected 1-65535), got {redact(value)!r}"
        ) from None
    if parts.port == 0:
        raise ConfigError(f"{name} has an invalid port (expected 1-65535), got {redact(value)!r}")
    if scheme in ("redis", "rediss"):
        database = parts.path.strip("/")
        if database and not database.isdigit():
            raise ConfigError(f"{name}: the Redis database must be a number, got {redact(value)!r}")
    return value


def redact(url: str) -> str:
    """The URL with its password (if any) replaced by ***, fit for an error message."""
    return re.sub(r"^([^:/]+://[^:/@]*:)[^@/]*@", r"\1***@", url)


def env_url(name: str, default: str = "", schemes: tuple[str, ...] | None = None) -> str:
    """The variable (or ``default``) stripped and checked; "" when both are empty."""
    raw = os.environ.get(name)
    value = default if raw is None or raw.strip() == "" else raw.strip()
    return check_url(name, value, schemes) if value else ""


def env_limit(name: str, default: str) -> str:
    """A rate-limit string as Flask-Limiter takes it ("10 per minute", "5/hour; 100/day")."""
    raw = os.environ.get(name)
    value = default if raw is None or raw.strip() == "" else raw.strip()
    if not _LIMITS.match(value):
        raise ConfigError(
            f"{name} must be a rate limit such as '10 per minute' or '100/hour', got {value!r}"
        )
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (compared without case), returned as listed there."""
    raw = os.environ.get(name)
    value = default if raw is None or raw.strip() == "" else raw.strip()
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def env_words(name: str, default: str, choices: tuple[str, ...]) -> list[str]:
    """A comma-separated list of words, each one of ``choices``."""
    raw = os.environ.get(name)
    value = default if raw is None or raw.strip() == "" else raw.strip()
    words = [word.strip() for word in value.split(",") if word.strip()]
    for word in words:
        if word not in choices:
            raise ConfigError(f"{name} must list some of {', '.join(choices)}, got {word!r}")
    return words
