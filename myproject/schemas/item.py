from __future__ import annotations

from marshmallow import Schema, fields, validate
from marshmallow_sqlalchemy import SQLAlchemySchema, auto_field

from myproject.models import Item
from myproject.schemas.common import PaginationQuerySchema
from myproject.schemas.fields import no_control_characters, record_id, text

SORT_CHOICES = ("created_at", "-created_at", "name", "-name", "updated_at", "-updated_at")


class ItemCreateSchema(Schema):
    """POST and PUT body: ``name`` required; an omitted description or category is null."""

    name = text(100, min_length=1, required=True)
    description = text(5000, allow_none=True, load_default=None)
    category = text(50, allow_none=True, load_default=None)


class ItemUpdateSchema(Schema):
    """PATCH body: any subset of the fields."""

    name = text(100, min_length=1)
    description = text(5000, allow_none=True)
    category = text(50, allow_none=True)


class OwnerSchema(Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String(dump_only=True)


class ItemSchema(SQLAlchemySchema[Item]):
    class Meta:
        model = Item

    id = auto_field(dump_only=True)
    name = auto_field(dump_only=True)
    description = auto_field(dump_only=True)
    category = auto_field(dump_only=True)
    owner = fields.Nested(OwnerSchema, attribute="user", dump_only=True)
    created_at = fields.DateTime(format="iso", dump_only=True)
    updated_at = fields.DateTime(format="iso", dump_only=True)


class ItemListQuerySchema(PaginationQuerySchema):
    category = fields.String(validate=[validate.Length(max=50), no_control_characters])
    owner = record_id()
    q = fields.String(
        validate=[validate.Length(min=1, max=100), no_control_characters],
        metadata={"description": "Case-insensitive substring of name or description."},
    )
    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(SORT_CHOICES),
    )
