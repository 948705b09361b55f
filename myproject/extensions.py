"""Extension objects, created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

import http
from typing import Any

from flask import request
from flask_caching import Cache
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_marshmallow import Marshmallow
from flask_migrate import Migrate
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from flask_sqlalchemy import SQLAlchemy
from marshmallow import Schema, fields
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from myproject.ratelimit import default_limit, is_exempt, rate_limit_key

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


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error answer carries them."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Not Found"})
    status = fields.Integer(metadata={"example": 404})
    detail = fields.String(metadata={"example": "Item 9 does not exist."})
    instance = fields.String(metadata={"example": "/api/items/9"})
    request_id = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.List(fields.String())),
        metadata={"description": "422 only: input location -> field -> messages"},
    )


class Api(SmorestApi):
    """flask-smorest's Api, with its error responses in our problem-JSON shape."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # flask-smorest documents errors as application/json; ours are problem+json.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, "application/problem+json")
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, "application/problem+json")
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def handle_http_exception(self, error: Any) -> Any:
        from myproject.errors import http_exception_response

        return http_exception_response(error)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
ma = Marshmallow()
jwt = JWTManager()
cache = Cache()
# One budget per client across all routes (application limits), plus stricter route limits.
limiter = Limiter(
    key_func=rate_limit_key,
    application_limits=[default_limit],
    application_limits_exempt_when=is_exempt,
)


@limiter.request_filter
def _is_operations_request() -> bool:
    """Probes, documentation and CORS preflights are never rate limited.

    Browsers send preflights without credentials; counting them would hold a signed-in SPA
    to the anonymous budget of its address.
    """
    return request.method == "OPTIONS" or request.path.startswith(
        ("/health", "/api/docs", "/api/openapi.json")
    )


cors = CORS()
api = Api()
