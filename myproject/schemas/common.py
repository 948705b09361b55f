from __future__ import annotations

from flask_marshmallow import Schema
from marshmallow import fields, validate

MAX_PAGE = 10_000_000


class PaginationQuerySchema(Schema):
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "Page number, from 1."},
    )
    per_page = fields.Integer(
        load_default=20,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "Page size, 1..100."},
    )
    cursor = fields.String(
        validate=[validate.Length(max=512), validate.Regexp(r"^[A-Za-z0-9_-]*$")],
        metadata={"description": "Opaque position from a `next` link (URL-safe base64)."},
    )
