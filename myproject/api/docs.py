"""Swagger UI's assets, served from the swagger-ui-bundle package so /api/docs works offline."""

from __future__ import annotations

from flask import Blueprint, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from myproject.extensions import limiter

bp = Blueprint("docs", __name__)


@bp.get("/api/docs/assets/<path:filename>")
@limiter.exempt
def swagger_ui_asset(filename: str) -> Response:
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
