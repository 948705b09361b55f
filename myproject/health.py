"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from myproject.caching import redis_available
from myproject.readiness import DATABASE_OK, database_state, is_draining
from myproject.schemas.health import HealthSchema, ReadinessSchema

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
        checks = {"database": database_state(), "redis": redis_state()}
        if is_draining():
            # The load balancer stops sending traffic while this worker still serves it.
            return {"status": "draining", "checks": checks}, 503
        if checks["database"] != DATABASE_OK:
            return {"status": "unavailable", "checks": checks}, 503
        status = "degraded" if checks["redis"] == "unavailable" else "ok"
        return {"status": status, "checks": checks}, 200


def redis_state() -> str:
    if not current_app.config.get("REDIS_URL"):
        return "not configured"
    return "ok" if redis_available() else "unavailable"
