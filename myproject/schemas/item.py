from __future__ import annotations

from flask_marshmallow import Schema
from flask_marshmallow.sqla import SQLAlchemySchema
from marshmallow import fields, validate
from marshmallow_sqlalchemy import auto_field

from myproject.models import Item
from myproject.schemas.common import PaginationQuerySchema
from myproject.schemas.fields import no_control_characters, record_id, text

SORT_CHOICES = ("created_at", "-created_at", "name", "-name", "updated_at", "-updated_at")
# Readable enum member names for generated clients (openapi-python-client, openapi-generator
# honour ``x-enum-varnames``): "-created_at" would otherwise become VALUE_1.
SORT_NAMES = [
    choice.lstrip("-").upper() + ("_DESC" if choice.startswith("-") else "")
    for choice in SORT_CHOICES
]


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


# Output schemas only document ``to_dict()`` (see api/responses.py): every field is always
# sent, so every field is required; ``description`` and ``category`` may be null.
class OwnerSchema(Schema):
    id = fields.Integer(dump_only=True, required=True)
    username = fields.String(dump_only=True, required=True)


class ItemSchema(SQLAlchemySchema):
    class Meta:
        model = Item

    id = auto_field(dump_only=True, required=True)
    name = auto_field(dump_only=True, required=True)
    description = auto_field(dump_only=True, required=True)
    category = auto_field(dump_only=True, required=True)
    owner = fields.Nested(OwnerSchema, attribute="user", dump_only=True, required=True)
    created_at = fields.DateTime(format="iso", dump_only=True, required=True)
    updated_at = fields.DateTime(format="iso", dump_only=True, required=True)


class ItemFilterQuerySchema(PaginationQuerySchema):
    """The list parameters of ``/api/users/<id>/items``, where the path names the owner."""

    category = fields.String(validate=[validate.Length(max=50), no_control_characters])
    q = fields.String(
        validate=[validate.Length(min=1, max=100), no_control_characters],
        metadata={"description": "Case-insensitive substring of name or description."},
    )
    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(SORT_CHOICES),
        metadata={
            "description": "Sort key; a leading '-' sorts descending.",
            "x-enum-varnames": SORT_NAMES,
            "component": "ItemSort",
        },
    )


class ItemListQuerySchema(ItemFilterQuerySchema):
    """The list parameters of ``/api/items``."""

    owner = record_id(metadata={"description": "Only the items of this user id."})
