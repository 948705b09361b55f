"""Field types and validators shared by the input schemas."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from marshmallow import ValidationError, fields, validate

MAX_INT4 = 2**31 - 1


# PostgreSQL text cannot hold NUL, and other C0 controls (all but tab, newline and carriage
# return) have no place in these fields. A Regexp, so the OpenAPI document shows the rule.
no_control_characters = validate.Regexp(
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$", error="Must not contain control characters."
)


class TrimmedString(fields.String):
    """A string with surrounding whitespace removed before validation."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        result = super()._deserialize(value, attr, data, **kwargs)
        return result.strip()


def text(max_length: int, min_length: int = 0, **kwargs: Any) -> fields.String:
    """A trimmed string of ``min_length``..``max_length`` characters without control chars."""
    return TrimmedString(
        validate=[validate.Length(min=min_length, max=max_length), no_control_characters],
        **kwargs,
    )


def record_id(**kwargs: Any) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_INT4), **kwargs)


class DeliverableEmail(fields.Email):
    """An address the mail pipeline can deliver to, as email-validator normalises it: the
    domain in its IDNA (ASCII) form, the whole address lower-case. A non-ASCII local part
    (``jörg@example.com``) is refused unless ``MAIL_SMTPUTF8`` (then it is sent with
    SMTPUTF8). Documented as ``format: email``, like marshmallow's ``Email``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # email-validator's rules replace marshmallow's regular expression.
        self.validators = [v for v in self.validators if not isinstance(v, validate.Email)]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        address = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            return stored_address(address)
        except EmailNotValidError as exc:
            raise ValidationError(f"Not a deliverable email address: {exc}") from None


def stored_address(address: str) -> str:
    """``address`` as the users table stores it (the IDNA domain, lower-case); raises
    ``EmailNotValidError`` for an address the mail pipeline cannot deliver to."""
    valid = validate_email(
        address,
        check_deliverability=False,
        allow_smtputf8=bool(current_app.config.get("MAIL_SMTPUTF8")),
    )
    return f"{valid.local_part}@{valid.ascii_domain}".lower()
