"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from myproject.caching import redis_available
from myproject.readiness import DATABASE_OK, database_state, is_draining
from myproject.schemas.health import HealthSchema, ReadinessSchema

CHECKS = "myproject_readiness_checks"
# How old an answer of /health/ready may be (docs/operations.md).
CHECK_SECONDS = 1.0

blp = Blueprint("health", __name__, url_prefix="/health", description="Operations probes")


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, Any]:
        """Liveness: the process is up (no dependency checks)"""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(
        503,
        schema=ReadinessSchema,
        description="The process is shutting down (draining), the database is unreachable, "
        "or its schema is behind the migrations",
    )
    def get(self) -> tuple[dict[str, Any], int]:
        """Readiness: the database answers and is migrated; Redis is reported"""
        checks = recent_checks()
        if is_draining():
            # The load balancer stops sending traffic while this worker still serves it.
            return {"status": "draining", "checks": checks}, 503
        if checks["database"] != DATABASE_OK:
            return {"status": "unavailable", "checks": checks}, 503
        status = "degraded" if checks["redis"] == "unavailable" else "ok"
        return {"status": status, "checks": checks}, 200


def recent_checks() -> dict[str, str]:
    """The dependency checks, run at most once per ``CHECK_SECONDS`` per process (per app):
    a probe in a loop costs what ``GET /health`` costs, not a query and a Redis call each."""
    cached = current_app.extensions.setdefault(CHECKS, _Checks())
    with cached.lock:
        now = time.monotonic()
        if cached.checks is None or now - cached.at >= CHECK_SECONDS:
            cached.checks = {"database": database_state(), "redis": redis_state()}
            cached.at = now
        return dict(cached.checks)


@dataclass
class _Checks:
    at: float = 0.0
    checks: dict[str, str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def redis_state() -> str:
    if not current_app.config.get("REDIS_URL"):
        return "not configured"
    return "ok" if redis_available() else "unavailable"
