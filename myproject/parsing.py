"""Request input parsing: text that cannot be stored is a 422 naming the field, for every
body and query schema at once (flask-smorest's parser, with one check before loading)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

# A lone UTF-16 surrogate (JSON allows "\ud800") cannot be encoded as UTF-8, and PostgreSQL
# text cannot hold NUL: either would fail deep in a driver or a hash as a 500.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Must be valid text: no NUL characters or lone UTF-16 surrogates."


def has_unstorable_text(value: Any) -> bool:
    """True when ``value`` (a string, or lists and dicts of them) holds text we cannot store."""
    if isinstance(value, str):
        return UNSTORABLE.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_unstorable_text(k) or has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_unstorable_text(v) for v in value)
    return False


class InputParser(FlaskParser):
    """webargs' Flask parser, refusing unstorable text before the schema sees it."""

    def _raw_load_json(self, req: Any) -> Any:
        # The body as Flask parsed it once (``hooks.check_request_body`` already did, and
        # answered 400 if it could not); webargs would parse the bytes a second time.
        return req.get_json() if is_json_request(req) else core.missing

    def _load_location_data(self, *, schema: Schema, req: Any, location: str) -> Any:
        data = super()._load_location_data(schema=schema, req=req, location=location)
        if isinstance(data, Mapping):
            bad = [name for name, value in data.items() if has_unstorable_text([name, value])]
            if bad:
                raise ValidationError({str(name): [UNSTORABLE_MESSAGE] for name in bad})
        elif has_unstorable_text(data):
            raise ValidationError({"_schema": [UNSTORABLE_MESSAGE]})
        return data
