"""Field types and validators shared by the input schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

MAX_INT4 = 2**31 - 1


def no_control_characters(value: str) -> None:
    # PostgreSQL text cannot hold NUL, and other C0 controls have no place in these fields.
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValidationError("Must not contain control characters.")


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
