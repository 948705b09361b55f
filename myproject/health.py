"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text

from myproject.caching import redis_available
from myproject.extensions import db
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
    @blp.alt_response(503, schema=ReadinessSchema, description="The database is unreachable")
    def get(self) -> tuple[dict[str, Any], int]:
        """Readiness: the database answers; Redis, when configured, is reported"""
        checks = {"database": "ok"}
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:
            db.session.rollback()
            checks["database"] = "unavailable"
        if current_app.config.get("REDIS_URL"):
            checks["redis"] = "ok" if redis_available() else "unavailable"
        if checks["database"] != "ok":
            return {"status": "unavailable", "checks": checks}, 503
        status = "ok" if checks.get("redis", "ok") == "ok" else "degraded"
        return {"status": status, "checks": checks}, 200
