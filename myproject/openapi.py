"""The OpenAPI side of the routes: problem-JSON errors, and decorators that enforce what
they document (a token, a body, ``If-Match``) so the two can never drift apart."""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from flask_jwt_extended import jwt_required
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from werkzeug.routing import IntegerConverter

from myproject.parsing import InputParser

F = TypeVar("F", bound=Callable[..., Any])

MAX_INT4 = 2**31 - 1
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
STRING = {"schema": {"type": "string"}}
LIST_HEADERS = {
    "X-Total-Count": {"description": "Number of matching rows", "schema": {"type": "integer"}},
    "Link": {"description": "RFC 8288 links: first, last, prev, next", **STRING},
}
ETAG_HEADER = {"ETag": {"description": "Strong validator of the item", **STRING}}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retry safely: the same key and body within 24 h replays the first answer.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "Apply the write only if the item's current ETag matches (else 412).",
    "schema": {"type": "string"},
}
# Any operation can be rate limited (429) or meet a database outage (503).
COMMON_ERRORS = (429, 503)
BODY_ERRORS = (400, 413, 415, 422)


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


class Int4Converter(IntegerConverter):
    """``<int4:name>``: an id that fits PostgreSQL's ``integer``; larger ones are a 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_INT4)
        super().__init__(map, *args, **kwargs)


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting errors in our problem-JSON shape."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_converter(
            Int4Converter, lambda _c: {"type": "integer", "minimum": 0, "maximum": MAX_INT4}
        )

    def init_app(self, app: Any, *args: Any, **kwargs: Any) -> None:
        app.url_map.converters["int4"] = Int4Converter
        super().init_app(app, *args, **kwargs)
        self.spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        )

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


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with decorators that both do and document one thing."""

    ARGUMENTS_PARSER = InputParser()

    def errors(self, *statuses: int) -> Callable[[F], F]:
        """Document problem-JSON answers ``statuses`` (plus 429 and 503, which any route has)."""

        def decorator(view: F) -> F:
            for code in sorted(set(statuses) | set(COMMON_ERRORS)):
                view = self.alt_response(code, response=http.HTTPStatus(code).name)(view)
            return view

        return decorator

    def authenticated(self, *, refresh: bool = False, optional: bool = False) -> Callable[[F], F]:
        """Require an access token (``refresh``: a refresh token; ``optional``: accept none);
        a missing or bad token is a 401. Documented as bearer security."""

        def decorator(view: F) -> F:
            view = jwt_required(refresh=refresh, optional=optional)(view)
            view = self.alt_response(401, response="UNAUTHORIZED")(view)
            security = [{}, *BEARER] if optional else BEARER
            return self.doc(security=security)(view)  # type: ignore[no-any-return]

        return decorator

    def body(self, schema: Schema) -> Callable[[F], F]:
        """Load the JSON body with ``schema`` into the view's first argument (422 when invalid),
        documenting the body errors (400 malformed, 413 too large, 415 not JSON, 422)."""

        def decorator(view: F) -> F:
            view = self.arguments(schema)(view)
            for code in BODY_ERRORS:
                view = self.alt_response(code, response=http.HTTPStatus(code).name)(view)
            return view

        return decorator

    def if_match(self, view: F) -> F:
        """Document the optional ``If-Match`` header and its 412 (``get_item_for_write``
        enforces it on the row it locks)."""
        view = self.alt_response(412, response="PRECONDITION_FAILED")(view)
        return self.doc(parameters=[IF_MATCH])(view)  # type: ignore[no-any-return]
