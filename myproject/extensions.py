"""Extension objects, created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

from flask import request
from flask_caching import Cache
from flask_cors import CORS
from flask_mail import Mail
from flask_marshmallow import Marshmallow
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from myproject.dbpool import ReadAutocommitSession
from myproject.openapi import Api
from myproject.ratelimit import JWTManager, default_limit, is_exempt, rate_limit_key
from myproject.ratelimit_window import ONE_TRIP_FIXED_WINDOW, Limiter

# Named constraints keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base, session_options={"class_": ReadAutocommitSession})
# Flask-Migrate is bound by `flask db` itself (myproject.cli.MigrateCommands), never here.
ma = Marshmallow()
jwt = JWTManager()
cache = Cache()
# One budget per client across all routes (application limits), plus stricter route limits.
# Fixed windows counted in one Redis round trip per request, headers included.
limiter = Limiter(
    key_func=rate_limit_key,
    application_limits=[default_limit],
    application_limits_exempt_when=is_exempt,
    strategy=ONE_TRIP_FIXED_WINDOW,
)


@limiter.request_filter
def _is_operations_request() -> bool:
    """Probes, metrics, documentation and CORS preflights are never rate limited; the
    Swagger UI's assets (about 1.5 MB a page) are, like any read.

    Browsers send preflights without credentials; counting them would hold a signed-in SPA
    to the anonymous budget of its address.
    """
    path = request.path
    if path.startswith("/api/docs/assets/"):
        return False
    return request.method == "OPTIONS" or path.startswith(
        ("/health", "/metrics", "/api/docs", "/api/openapi.json")
    )


cors = CORS()
api = Api()
mail = Mail()
