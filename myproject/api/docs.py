"""Swagger UI's assets, served from the swagger-ui-bundle package so /api/docs works offline;
``/api/docs/`` (a URL people type) redirects to the page at ``/api/docs``.

They count against the caller's default limit (anonymous: ``RATELIMIT_ANONYMOUS``) like any
read: the bundle is about 1.5 MB, so an unlimited asset route would be the cheapest way to
make the service send a lot (``myproject.extensions``)."""

from __future__ import annotations

from flask import Blueprint, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import NotFound

bp = Blueprint("docs", __name__)

# What flask-smorest's Swagger UI page (flask_smorest/spec/templates/swagger_ui.html) loads.
# The bundle's other files (source maps, its demo index page and petstore initializer, the
# OAuth2 redirect page) are not part of our docs and are not published.
SWAGGER_UI_ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}
)


@bp.get("/api/docs/assets/<path:filename>")
def swagger_ui_asset(filename: str) -> Response:
    if filename not in SWAGGER_UI_ASSETS:
        raise NotFound(f"No docs asset {filename!r}.")
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


@bp.get("/api/docs/")
def swagger_ui_slash() -> Response:
    # Relative, so it stays right behind a proxy that serves the API under another host.
    return Response(status=308, headers={"Location": "/api/docs"})
