"""The base of every schema that reads client input.

PostgreSQL cannot store a NUL character in text, and no name, title or address needs one (nor
any other control character but tab and line breaks): such input is refused here with a 422,
before it can reach the database and become a server error.
"""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, pre_load

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


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


class InputSchema(Schema):
    @pre_load(pass_collection=True)
    def _refuse_control_characters(self, data, **_kwargs):
        source = data.to_dict(flat=False) if hasattr(data, "to_dict") else data
        bad = _bad_paths(source)
        if bad:
            raise ValidationError({path: ["Control characters are not allowed."] for path in bad})
        return data
