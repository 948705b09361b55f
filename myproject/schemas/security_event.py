from __future__ import annotations

from flask_marshmallow import Schema
from marshmallow import fields, validate

from myproject.schemas.common import PaginationQuerySchema
from myproject.schemas.fields import record_id
from myproject.security_events import TYPES

# One component, so a generated client has one ``SecurityEventType`` enum.
TYPE_METADATA = {"component": "SecurityEventType"}


# Documents ``security_event_dict`` exactly (a test holds the two equal): every field is
# always sent; ``actor_id``, ``ip`` and ``user_agent`` may be null.
class SecurityEventSchema(Schema):
    id = fields.Integer(dump_only=True, required=True)
    type = fields.String(required=True, validate=validate.OneOf(TYPES), metadata=TYPE_METADATA)
    user_id = fields.Integer(dump_only=True, required=True)
    actor_id = fields.Integer(
        dump_only=True,
        required=True,
        allow_none=True,
        metadata={"description": "Who did it, when someone signed in did; null otherwise."},
    )
    created_at = fields.DateTime(format="iso", dump_only=True, required=True)
    ip = fields.String(
        dump_only=True,
        required=True,
        allow_none=True,
        metadata={"description": "The client address, as the rate limiter sees it."},
    )
    user_agent = fields.String(dump_only=True, required=True, allow_none=True)
    detail = fields.Dict(
        keys=fields.String(),
        dump_only=True,
        required=True,
        metadata={"description": "What else is known (ids, field names); never a secret."},
    )


class OwnSecurityEventsQuerySchema(PaginationQuerySchema):
    pass


class SecurityEventsQuerySchema(PaginationQuerySchema):
    user = record_id(metadata={"description": "Only the events about this user id."})
    type = fields.String(
        validate=validate.OneOf(TYPES),
        metadata={"description": "Only the events of this type.", **TYPE_METADATA},
    )
