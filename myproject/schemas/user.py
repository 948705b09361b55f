from __future__ import annotations

from flask_marshmallow import Schema
from flask_marshmallow.sqla import SQLAlchemySchema
from marshmallow import fields, validate
from marshmallow_sqlalchemy import auto_field

from myproject.models import User
from myproject.schemas.common import PaginationQuerySchema
from myproject.schemas.fields import DeliverableEmail, TrimmedString, no_control_characters

USERNAME_PATTERN = r"^[A-Za-z0-9._-]+$"


def username_field(**kwargs: object) -> fields.String:
    return TrimmedString(
        validate=[
            validate.Length(min=3, max=80),
            validate.Regexp(USERNAME_PATTERN, error="Use only letters, digits, '.', '_' and '-'."),
        ],
        **kwargs,  # type: ignore[arg-type]
    )


def email_field(**kwargs: object) -> fields.Email:
    return DeliverableEmail(validate=validate.Length(max=120), **kwargs)


def password_field(**kwargs: object) -> fields.String:
    # The length cap is checked before any hashing, so a huge password costs nothing.
    return fields.String(
        load_only=True,
        validate=[validate.Length(min=8, max=128), no_control_characters],
        **kwargs,  # type: ignore[arg-type]
    )


class UserCreateSchema(Schema):
    username = username_field(required=True)
    email = email_field(required=True)
    password = password_field(required=True)


class UserUpdateSchema(Schema):
    """PATCH body. ``is_active`` / ``is_admin`` / ``is_premium`` are accepted from admins only, and
    ``current_password`` is required to change one's own email or password (both checked by
    ``services.update_user``, which knows the caller)."""

    username = username_field()
    email = email_field()
    password = password_field()
    current_password = fields.String(
        load_only=True,
        validate=validate.Length(max=1024),
        metadata={
            "description": "Required to change one's own email or password (not stored, "
            "never returned); an admin changing another user needs none."
        },
    )
    is_active = fields.Boolean(truthy={True}, falsy={False})
    is_admin = fields.Boolean(truthy={True}, falsy={False})
    is_premium = fields.Boolean(truthy={True}, falsy={False})


# Output schemas only document ``to_dict()`` (see api/responses.py): every field is always
# sent, so every field is required, and no other field is (additionalProperties: false), which
# keeps the two representations apart for ``oneOf``.
class UserPublicSchema(SQLAlchemySchema):
    """The public representation: for anyone."""

    class Meta:
        model = User

    id = auto_field(dump_only=True, required=True)
    username = auto_field(dump_only=True, required=True)
    created_at = fields.DateTime(format="iso", dump_only=True, required=True)


class UserSchema(UserPublicSchema):
    """The private representation: for the user themself and for admins."""

    email = auto_field(dump_only=True, required=True)
    email_verified = auto_field(dump_only=True, required=True)
    is_active = auto_field(dump_only=True, required=True)
    is_admin = auto_field(dump_only=True, required=True)
    is_premium = auto_field(dump_only=True, required=True)
    updated_at = fields.DateTime(format="iso", dump_only=True, required=True)


# ``GET /api/users/<id>``: private for self and admins, public for anyone else. The private
# schema comes first: a client that tries the members in order (openapi-python-client does)
# reads a private answer with every field declared and falls back to the public one.
USER_EITHER = {"oneOf": [UserSchema, UserPublicSchema]}


class UserListQuerySchema(PaginationQuerySchema):
    pass


class ProtectedSchema(Schema):
    message = fields.String(required=True)
