from flask_marshmallow import Schema
from marshmallow import fields


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class ReadinessSchema(Schema):
    status = fields.String(
        required=True, metadata={"description": "ok, degraded, unavailable or draining"}
    )
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
