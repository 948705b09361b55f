"""Imported first by ``myproject``: redis-py (7+) imports the OpenTelemetry SDK whenever it is
installed (the ``otel`` extra), for metrics of its own that stay off unless configured. It is
imported here with OpenTelemetry out of its reach, so that without
``OTEL_EXPORTER_OTLP_ENDPOINT`` nothing of OpenTelemetry is imported (myproject/tracing.py
instruments redis-py from outside and needs none of that)."""

from __future__ import annotations

import sys


def import_redis_without_opentelemetry() -> None:
    if "redis" in sys.modules or "opentelemetry" in sys.modules:
        return
    sys.modules["opentelemetry"] = None  # type: ignore[assignment]  # its imports fail at once
    try:
        import redis.observability.providers  # noqa: F401
    except ImportError:
        pass  # a redis-py without it
    finally:
        del sys.modules["opentelemetry"]


import_redis_without_opentelemetry()
