"""The parameters of an action call, whatever way they came (query string, JSON, form, multipart).

Query strings and forms carry only strings, so each getter reads a string as CKAN does
(``"true"``, ``"10"``, ``'["tags"]'``); JSON carries typed values. A value that cannot
be read is a Validation Error naming the parameter, as in CKAN.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import FileStorage

from opendata.errors import ValidationFailed

MAX_INTEGER = 2**31 - 1
MISSING = "Thiếu giá trị (Missing value)."


class Params:
    def __init__(self, data: Mapping[str, Any], files: Mapping[str, FileStorage] | None = None):
        self.data = dict(data)
        self.files = dict(files or {})

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise ValidationFailed(fields={key: [MISSING]})
            return default
        if not isinstance(value, (str, int)):
            raise ValidationFailed(fields={key: ["Phải là một chuỗi ký tự."]})
        return str(value)

    def first(self, *keys: str) -> str:
        """The first of several names a parameter goes by (``id`` or ``name``). Raises if none is given."""
        for key in keys:
            value = self.text(key)
            if value:
                return value
        raise ValidationFailed(fields={keys[0]: [MISSING]})

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on", "false", "0", "no", "off"}:
            return value.strip().lower() in {"true", "1", "yes", "on"}
        raise ValidationFailed(fields={key: ["Phải là true hoặc false."]})

    def integer(self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.data.get(key)
        if value is None or value == "":
            return default
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or (isinstance(value, float) and value != number):
            raise ValidationFailed(fields={key: ["Phải là số nguyên (Invalid integer)."]})
        if minimum is not None and number < minimum:
            raise ValidationFailed(fields={key: [f"Phải lớn hơn hoặc bằng {minimum}."]})
        # Past any real catalogue, and small enough for a database offset: 10**30 answers an empty page.
        return min(number, maximum if maximum is not None else MAX_INTEGER)

    def string_list(self, key: str) -> list[str]:
        """A list given as JSON (``["a", "b"]``), as a JSON string of one, or as one string."""
        value = self.data.get(key)
        if value is None or value == "":
            return []
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.lstrip().startswith("[") else [value]
            except ValueError:
                raise ValidationFailed(fields={key: ["Phải là một danh sách JSON."]}) from None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValidationFailed(fields={key: ["Phải là một danh sách chuỗi ký tự."]})
        return value
