"""The base of every schema that reads client input (bodies are read by `api.json_body`).

PostgreSQL cannot store a NUL character in text, and no name, title or address needs one (nor
any other control character but tab and line breaks); a lone surrogate (JSON's `"\\ud800"`)
is not text at all and cannot even be encoded to send it. Such input is refused here with a
422, before it can reach the database and become a server error. So is a time that has no UTC
equivalent (`0001-01-01T00:00:00+14:00`), since every time is compared and stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import Schema, ValidationError, fields, pre_load

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def _bad_paths(value, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "value"] if _FORBIDDEN.search(value) else []
    if isinstance(value, dict):
        return [
            p for key, item in value.items() for p in _bad_paths(item, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _bad_paths(item, f"{path}[{index}]")]
    return []


def _has_a_utc_equivalent(value: dt.datetime) -> None:
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationError("This time is outside the calendar once converted to UTC.") from None


class InputSchema(Schema):
    @pre_load(pass_collection=True)
    def _refuse_control_characters(self, data, **_kwargs):
        source = data.to_dict(flat=False) if hasattr(data, "to_dict") else data
        bad = _bad_paths(source)
        if bad:
            message = "Control characters and lone surrogates are not allowed."
            raise ValidationError({path: [message] for path in bad})
        return data

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        # Field validators run before any schema validator compares two times.
        if isinstance(field_obj, fields.DateTime):
            field_obj.validators = [*field_obj.validators, _has_a_utc_equivalent]
