"""Reading the environment: explicit coercion, one-line errors that name the variable.

Standard library only (see the package docstring).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

# Values that must never sign tokens in production: our own dev defaults and the usual suspects.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "dev",
        "dev-secret-key-change-me-not-for-production",
        "dev-jwt-secret-key-change-me-not-for-production",
        "changeme",
        "change-me",
        "secret",
        "secret-key",
        "super-secret",
        "your-secret-key",
    }
)
MIN_SECRET_LENGTH = 32
# "aaaa..." or "abababab..." is long enough but guessable; a random 32-character value (even
# hex) has far more distinct characters than this.
MIN_DISTINCT_SECRET_CHARACTERS = 5


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names the variable to fix."""


def as_bool(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    normalized = value.strip().lower()
    if normalized in {"1", "true", "yes", "on"}:
        return True
    if normalized in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"expected true/false, got {value!r}")


def env_bool(name: str, default: bool) -> bool:
    try:
        return as_bool(os.environ.get(name), default)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in env_str(name, default).split(",") if part.strip()]


def env_networks(name: str, default: str) -> list[str]:
    try:  # an address alone is a /32 or /128 network
        return [str(ipaddress.ip_network(part, strict=False)) for part in env_list(name, default)]
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def normalize_database_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` URLs onto the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"pool_pre_ping": True}
    # No pool_pre_ping: it costs a round trip on every checkout. create_app pings only
    # connections that sat idle (see myproject.dbpool), which is where dead ones hide.
    return {
        "pool_size": env_int("DB_POOL_SIZE", 5, minimum=1),
        "max_overflow": env_int("DB_MAX_OVERFLOW", 10),
        "pool_recycle": 1800,
        "pool_timeout": 10,
        "connect_args": {"connect_timeout": 5},
    }


def redis_options() -> dict[str, Any]:
    # Short timeouts: a dead Redis must cost milliseconds, not a hung worker.
    return {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def check_production_secrets() -> None:
    """Raise ConfigError unless SECRET_KEY and JWT_SECRET_KEY are two distinct random values."""
    keys: dict[str, str] = {}
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        value = os.environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"{name} is not set; production needs a random secret.")
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{name} is too short; use at least {MIN_SECRET_LENGTH} random characters."
            )
        if value.lower() in KNOWN_DEFAULT_SECRETS:
            raise ConfigError(f"{name} is a known default value; generate a random one.")
        if len(set(value)) < MIN_DISTINCT_SECRET_CHARACTERS:
            raise ConfigError(
                f"{name} has too few distinct characters to be random; generate a random one."
            )
        keys[name] = value
    if keys["SECRET_KEY"] == keys["JWT_SECRET_KEY"]:
        # Two keys so that one leak does not give away both.
        raise ConfigError("JWT_SECRET_KEY must differ from SECRET_KEY; generate another one.")
