from __future__ import annotations

from flask_marshmallow import Schema
from marshmallow import fields, validate

from myproject.schemas.user import email_field, password_field


class PasswordResetRequestSchema(Schema):
    email = email_field(required=True)


class PasswordResetConfirmSchema(Schema):
    token = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=256),
        metadata={"description": "The token from the reset email's link."},
    )
    password = password_field(required=True, metadata={"description": "The new password."})


class VerifyEmailSchema(Schema):
    token = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=256),
        metadata={"description": "The token from the verification email's link."},
    )


class MessageSchema(Schema):
    message = fields.String(required=True)
