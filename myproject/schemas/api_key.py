"""API keys and login sessions: the input of ``POST /auth/api-keys`` and both wire shapes."""

from __future__ import annotations

from typing import Any

from flask_marshmallow import Schema
from marshmallow import ValidationError, fields, validate

from myproject.models.api_key import SCOPES
from myproject.schemas.fields import text


def _scopes(value: Any) -> None:
    # The whole list is checked here, so that any bad entry (unknown, not a string, null) is
    # one message under the field ("scopes"), as every problem reports it; a List field would
    # key its messages by the entry's position ({"0": [...]}).
    if not isinstance(value, list) or not value:
        raise ValidationError("Must be a non-empty list of scopes.")
    if any(not isinstance(scope, str) or scope not in SCOPES for scope in value):
        raise ValidationError(f"Must be one of: {', '.join(SCOPES)}.")


class ApiKeyCreateSchema(Schema):
    name = text(100, min_length=1, required=True, metadata={"example": "nightly export"})
    scopes = fields.Raw(
        required=True,
        validate=_scopes,
        metadata={
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(SCOPES)},
            "description": "What the key may do: a non-empty subset of the four scopes "
            "(a scope named twice counts once).",
        },
    )
    expires_in_days = fields.Integer(
        load_default=90,
        validate=validate.Range(min=1, max=365),
        metadata={"description": "Lifetime in days, 1..365 (default 90)."},
    )


class ApiKeySchema(Schema):
    """A key as listed: never the key itself (``myproject.models.api_key.api_key_dict``)."""

    id = fields.Integer(dump_only=True, required=True)
    name = fields.String(dump_only=True, required=True)
    scopes = fields.List(
        fields.String(metadata={"enum": list(SCOPES)}),
        attribute="scope_list",
        dump_only=True,
        required=True,
    )
    prefix = fields.String(
        dump_only=True,
        required=True,
        metadata={"description": "The key's first 8 characters, to recognise it."},
    )
    created_at = fields.DateTime(format="iso", dump_only=True, required=True)
    expires_at = fields.DateTime(format="iso", dump_only=True, required=True)
    last_used_at = fields.DateTime(
        format="iso",
        dump_only=True,
        required=True,
        allow_none=True,
        metadata={"description": "Moves at most once a minute; null until the first use."},
    )


class ApiKeyCreatedSchema(ApiKeySchema):
    """The 201 of ``POST /auth/api-keys``: the only answer that ever shows the key."""

    token = fields.String(
        dump_only=True,
        required=True,
        metadata={"description": "The key: `mp_` and 43 URL-safe characters. Shown once."},
    )


class LoginSessionSchema(Schema):
    """One live login of the caller (``myproject.models.session.session_dict``)."""

    id = fields.Integer(dump_only=True, required=True)
    created_at = fields.DateTime(format="iso", dump_only=True, required=True)
    last_used_at = fields.DateTime(
        format="iso",
        dump_only=True,
        required=True,
        metadata={"description": "Moves at most once a minute."},
    )
    ip = fields.String(
        dump_only=True,
        required=True,
        allow_none=True,
        metadata={"description": "Address of the login or its last refresh."},
    )
    user_agent = fields.String(
        dump_only=True,
        required=True,
        allow_none=True,
        metadata={"description": "User-Agent of the login or its last refresh."},
    )
    current = fields.Boolean(
        dump_only=True,
        required=True,
        metadata={"description": "True for the login of the token that made this request."},
    )
