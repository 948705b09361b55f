"""The OpenAPI side of the routes: problem-JSON errors, the headers every answer carries, and
decorators that enforce what they document (a token, a body, ``If-Match``) so the two can
never drift apart."""

from __future__ import annotations

import functools
import http
from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from flask import g, request
from flask_jwt_extended import jwt_required
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from webargs.flaskparser import abort  # flask_smorest.abort, with its NoReturn type
from werkzeug.routing import IntegerConverter

from myproject.auth.verified import is_guarded, verified_email_required
from myproject.parsing import InputParser

F = TypeVar("F", bound=Callable[..., Any])

MAX_INT4 = 2**31 - 1
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# The view attribute naming the scope an API key needs (``Blueprint.authenticated``).
API_KEY_SCOPE = "api_key_scope"
KEYS = "A JWT access token, or an API key (mp_...) where an x-api-key-scope it holds is named."


def _header(description: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


NON_NEGATIVE = {"type": "integer", "minimum": 0}
# Response headers, registered once as components and referenced by name.
HEADERS = {
    "X-RateLimit-Limit": _header("Requests allowed in the current window.", NON_NEGATIVE),
    "X-RateLimit-Remaining": _header("Requests left in the current window.", NON_NEGATIVE),
    "X-RateLimit-Reset": _header(
        "When the current window ends (Unix time, seconds).", NON_NEGATIVE
    ),
    "Retry-After": _header("Seconds to wait before retrying.", NON_NEGATIVE, required=True),
    "Location": _header("URL of the created resource.", {"type": "string"}, required=True),
    "ETag": _header("Strong validator of the item.", {"type": "string"}, required=True),
    "X-Total-Count": _header("Number of matching rows.", NON_NEGATIVE, required=True),
    "X-Total-Count-Lower-Bound": _header(
        "`true` when a search matched more rows than it counts: X-Total-Count is then 10000.",
        {"type": "string", "enum": ["true"]},
    ),
    "Link": _header("RFC 8288 links: first, last, prev, next.", {"type": "string"}, required=True),
    "WWW-Authenticate": _header("The bearer challenge.", {"type": "string"}, required=True),
}
# Flask-Limiter sends these on every answer of a limited route (when limits are enabled and
# the caller is not exempt, hence optional).
RATE_LIMIT_HEADERS = {name: name for name in HEADERS if name.startswith("X-RateLimit-")}
LIST_HEADERS = {
    "X-Total-Count": "X-Total-Count",
    "X-Total-Count-Lower-Bound": "X-Total-Count-Lower-Bound",
    "Link": "Link",
}
ETAG_HEADER = {"ETag": "ETag"}
# errors.py and Flask-Limiter send Retry-After on these.
RETRY_AFTER_STATUSES = (429, 503)
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retry safely: the same key and body within 24 h replays the first answer.",
    # Printable ASCII (idempotency.KEY_PATTERN); HTTP drops surrounding spaces on the way.
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
    },
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "Apply the write only if the item's current ETag matches (else 412).",
    "schema": {"type": "string"},
}
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": "Answer 304 without a body if the item's current ETag matches.",
    "schema": {"type": "string"},
}
# Any operation can be rate limited (429) or meet a database outage (503).
COMMON_ERRORS = (429, 503)
BODY_ERRORS = (400, 413, 415, 422)


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error answer carries them."""

    # errors.problem() always sends these six; ``errors`` only with a 422.
    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True, metadata={"example": "Not Found"})
    status = fields.Integer(required=True, metadata={"example": 404})
    detail = fields.String(required=True, metadata={"example": "Item 9 does not exist."})
    instance = fields.String(required=True, metadata={"example": "/api/items/9"})
    request_id = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.List(fields.String())),
        metadata={"description": "422 only: input location -> field -> messages"},
    )


def component_reference(
    converter: Any, field: Any, ret: dict[str, Any], **_kw: Any
) -> dict[str, Any]:
    """apispec attribute function: a field with ``metadata={"component": "Name"}`` is
    documented once as the schema component ``Name`` and referenced wherever it is used, so
    a generated client has one readable type (``ItemSort``) instead of one per operation."""
    name = field.metadata.get("component")
    if name is None:
        return {}
    description = ret.pop("description", None)
    if name not in converter.spec.components.schemas:
        converter.spec.components.schema(name, dict(ret))
    ret.clear()
    reference = {"$ref": f"#/components/schemas/{name}"}
    return {**reference, "description": description} if description else reference


class Int4Converter(IntegerConverter):
    """``<int4:name>``: an id that fits PostgreSQL's ``integer``; larger ones are a 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_INT4)
        super().__init__(map, *args, **kwargs)


class Api(flask_smorest.Api):
    """flask-smorest's Api, documenting errors in our problem-JSON shape.

    No ``default`` response: every status an operation answers is listed, so the document
    says exactly which ones a client must handle.
    """

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_converter(
            Int4Converter, lambda _c: {"type": "integer", "minimum": 0, "maximum": MAX_INT4}
        )

    def init_app(self, app: Any, *args: Any, **kwargs: Any) -> None:
        app.url_map.converters["int4"] = Int4Converter
        super().init_app(app, *args, **kwargs)
        self.spec.components.security_scheme(
            "bearerAuth",
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": KEYS},
        )
        self.ma_plugin.converter.add_attribute_function(component_reference)

    def _register_responses(self) -> None:
        # Headers first: the responses below refer to them by name. Lazy, so only the ones
        # some operation uses appear in the document.
        for name, header in HEADERS.items():
            self.spec.components.header(name, header, lazy=True)
        # flask-smorest documents errors as application/json; ours are problem+json, and
        # they come from rate-limited routes (health documents its own answers inline).
        for status in http.HTTPStatus:
            if status < 400:
                continue
            headers = dict(RATE_LIMIT_HEADERS)
            if status in RETRY_AFTER_STATUSES:
                headers["Retry-After"] = "Retry-After"
            if status == 401:  # auth/callbacks.py and the login route challenge on each 401
                headers["WWW-Authenticate"] = "WWW-Authenticate"
            response = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, "application/problem+json")
            response["headers"] = headers
            self.spec.components.response(status.name, response, lazy=True)

    def _register_pagination_header(self) -> None:
        # Our lists page with Link and X-Total-Count; flask-smorest's X-Pagination header
        # (and its PaginationMetadata schema) would be an unused component.
        pass


def _require_body(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not request.get_data(cache=True):
            abort(400, message="A JSON request body is required.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with decorators that both do and document one thing.

    Its routes are rate limited: every answer they document carries the rate-limit headers
    (the ``health`` probes, which are not, use flask-smorest's Blueprint).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._document_rate_limit_headers)

    @staticmethod
    def _document_rate_limit_headers(doc: dict[str, Any], *_a: Any, **_kw: Any) -> dict[str, Any]:
        # Error responses are components that carry the headers already (Api above).
        for response in doc.get("responses", {}).values():
            if isinstance(response, dict):
                response.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
        return doc

    def response(self, status_code: int, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's ``response``; a 201 also documents its ``Location`` header."""
        if int(status_code) == 201:
            kwargs["headers"] = {"Location": "Location", **(kwargs.get("headers") or {})}
        return super().response(status_code, *args, **kwargs)  # type: ignore[no-any-return]

    ARGUMENTS_PARSER = InputParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's ``arguments``; query arguments also document the ``414`` that a
        query string over 4 KiB gets (``hooks.check_query_string``)."""
        decorator = super().arguments(schema, *args, **kwargs)
        if kwargs.get("location") != "query":
            return decorator  # type: ignore[no-any-return]

        def with_414(view: F) -> F:
            view = decorator(view)
            return self.alt_response(414, response="REQUEST_URI_TOO_LONG")(view)  # type: ignore[no-any-return]

        return with_414

    def errors(self, *statuses: int) -> Callable[[F], F]:
        """Document problem-JSON answers ``statuses`` (plus 429 and 503, which any route has)."""

        def decorator(view: F) -> F:
            for code in sorted(set(statuses) | set(COMMON_ERRORS)):
                view = self.alt_response(code, response=http.HTTPStatus(code).name)(view)
            return view

        return decorator

    def authenticated(
        self,
        *,
        refresh: bool = False,
        optional: bool = False,
        public: bool = False,
        scope: str | None = None,
    ) -> Callable[[F], F]:
        """Require an access token (``refresh``: a refresh token; ``optional``: accept none;
        ``public``: anonymous, only an API key is checked); a bad token is a 401. ``scope``: what
        an API key needs here (none: keys are refused), checked before the view by
        ``myproject.auth.key_access`` (403). Documented as bearer security."""

        def decorator(view: F) -> F:
            if is_guarded(view, self.url_prefix):  # REQUIRE_VERIFIED_EMAIL: 403
                view = verified_email_required(view)  # type: ignore[assignment]
            checked = view if public else jwt_required(refresh=refresh, optional=optional)(view)

            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                # A key's scope was checked before the view; a JWT is checked here.
                return (view if g.get("api_key_checked") else checked)(*args, **kwargs)

            setattr(wrapper, API_KEY_SCOPE, scope)
            result: Any = self.alt_response(401, response="UNAUTHORIZED")(wrapper)
            result = self.alt_response(403, response="FORBIDDEN")(result)  # a key, refused
            if scope is not None:
                result = self.doc(**{"x-api-key-scope": scope})(result)
            security = [{}, *BEARER] if optional or public else BEARER
            return self.doc(security=security)(result)  # type: ignore[no-any-return]

        return decorator

    def body(self, schema: Schema) -> Callable[[F], F]:
        """Load the JSON body with ``schema`` into the view's first argument (422 when invalid),
        documenting the body errors (400 missing or malformed, 413 too large, 415 not JSON,
        422). The body is required, as documented: webargs would load a missing one as ``{}``,
        which would make an empty PATCH a silent success."""

        def decorator(view: F) -> F:
            view = _require_body(self.arguments(schema)(view))
            for code in BODY_ERRORS:
                view = self.alt_response(code, response=http.HTTPStatus(code).name)(view)
            return view

        return decorator

    def if_match(self, view: F) -> F:
        """Document the optional ``If-Match`` header and its 412 (``get_item_for_write``
        enforces it on the row it locks)."""
        view = self.alt_response(412, response="PRECONDITION_FAILED")(view)
        return self.doc(parameters=[IF_MATCH])(view)  # type: ignore[no-any-return]

    def if_none_match(self, view: F) -> F:
        """Document the optional ``If-None-Match`` header and its bodiless 304 with the ETag
        (``cached_get`` answers it, from the cache or not)."""
        view = self.alt_response(
            304, description="Not Modified: the ETag matches.", headers=ETAG_HEADER
        )(view)
        return self.doc(parameters=[IF_NONE_MATCH])(view)  # type: ignore[no-any-return]
