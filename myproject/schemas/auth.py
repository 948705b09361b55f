from flask_marshmallow import Schema
from marshmallow import fields, validate

from myproject.schemas.fields import no_control_characters


class LoginSchema(Schema):
    # No control characters: a NUL would reach PostgreSQL in the lookup (schemathesis found
    # the generic "malformed for storage" 422 instead of one naming the field).
    username = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=320), no_control_characters],
        metadata={"description": "Username or email address."},
    )
    # Over-long passwords are rejected before any hashing is done.
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=128)
    )


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(
        required=True, metadata={"description": "Access token lifetime in seconds."}
    )


class CookieTokenSchema(Schema):
    """The answer with cookies only (``JWT_TOKEN_LOCATION=cookies``): the tokens are in the
    ``HttpOnly`` cookies the answer sets, none in the body."""

    token_type = fields.String(required=True, metadata={"example": "cookie"})
    expires_in = fields.Integer(
        required=True, metadata={"description": "Access token lifetime in seconds."}
    )


# The tokens in the body (bearer mode, and headers+cookies), or none (cookies only). A client
# that tries the members in order reads the bearer answer first.
TOKEN_EITHER = {"oneOf": [TokenSchema, CookieTokenSchema]}
