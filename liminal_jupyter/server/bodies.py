"""Reading a request's JSON body field by field, with one clear 400 per wrong field.

Typed checks only (is it a string, a bool, a whole number): the values themselves
(parameters above all) are checked by the code that uses them, with its own words.
"""

from __future__ import annotations

import json
from typing import Any

from liminal_jupyter.server.errors import ApiError

_MISSING = object()


class Body:
    """The request's JSON object; `get(name, kind, default)` checks each field's type."""

    def __init__(self, raw: bytes) -> None:
        try:
            data = json.loads(raw or b"{}")
            # A "\ud800" escape decodes to a lone surrogate, which no file name, command
            # line or log can carry: refused here rather than deep in the handler.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ApiError(400, "the request body is nested too deeply (hundreds of levels "
                           "of lists or objects); no field of this API nests.") from None
        except UnicodeEncodeError:
            raise ApiError(400, "the request body has a string that is not valid Unicode (a "
                           "lone surrogate escape such as \\ud800).") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object, e.g. "
                           '{"path": "train.ipynb"}.')
        self.data = data

    def get(self, name: str, kind: str, default: Any = _MISSING) -> Any:
        """The field `name`, checked to be `kind`: str, bool, int, dict (None when
        `default` is None and the field is null or absent)."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING or (value is None and default is None):
            if default is _MISSING:
                raise ApiError(400, f"the request body has no '{name}' field.")
            return default
        if not _is_kind(value, kind):
            raise ApiError(400, f"'{name}' must be {_KIND_TEXT[kind]}, not {_json_type(value)}.")
        return value

    def text(self, name: str) -> str | None:
        """An optional string field where "" means unset (as the panel's settings send it)."""
        value = self.get(name, "str", None)
        return value.strip() or None if value is not None else None


_KIND_TEXT = {"str": "a string", "bool": "true or false", "int": "a whole number",
              "dict": "an object of name: value"}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "bool": bool, "dict": dict}[kind])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
