"""Start-up warnings: settings that work but that an operator most likely did not mean.

A server logs them once when it starts (the gunicorn master in gunicorn.conf.py, ``flask run``
in create_app); command-line tools (``flask db``, ``flask seed``, ``celery``) never do.
Standard library only (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def settings_of(config: object) -> dict[str, Any]:
    """A configuration object's settings (its upper-case attributes) as a mapping."""
    return {name: getattr(config, name) for name in dir(config) if name.isupper()}


def startup_warnings(settings: Mapping[str, Any]) -> list[str]:
    warnings: list[str] = []
    if settings["ENV_NAME"] != "production":
        return warnings
    if settings["RATELIMIT_ENABLED"] and not settings.get("REDIS_URL"):
        warnings.append(
            "REDIS_URL is not set: each worker process counts rate limits on its own, so a "
            "client gets every limit once per worker; set REDIS_URL to share the counts."
        )
    if not settings.get("TRUSTED_HOSTS"):
        warnings.append(
            "ALLOWED_HOSTS is not set: any Host header is answered and echoed into Location "
            "and Link URLs; set it to the host names this service answers for."
        )
    return warnings
