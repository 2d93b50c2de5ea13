"""Parameter values set from outside (`-p name=value`, `--params-file`), typed and checked.

Every backend takes values this way. A command-line value is text; it is converted by the
parameter's declared type (from the notebook's parameters cell), so `-p n=5` is the int 5
and `-p name=5` the string "5". Values reach the notebook only as data (papermill writes
them as literals), never as code.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any

from liminal_jupyter.pipeline import Parameter, Pipeline

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ParameterError(ValueError):
    """A value the pipeline cannot take; the message says which and why."""


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> {"a": "1", "b": "x=y"} (values stay text until typed)."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"-p {pair!r}: write -p NAME=VALUE, e.g. -p n_estimators=50.")
        found[name.strip()] = value
    return found


def read_params_file(path: str | Path) -> dict[str, Any]:
    """A YAML (or JSON) mapping of parameter names to values.

    JSON is read as JSON first: it is YAML too, but PyYAML refuses a key longer than 1024
    characters with a scanner error, so a long (wrong) name would be reported as broken
    YAML instead of as an unknown parameter. The server and the Python API write JSON.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = _json_or_yaml(text)
    except RecursionError:
        raise ParameterError(f"--params-file {path}: nested too deeply.") from None
    except OSError as exc:
        raise ParameterError(f"--params-file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ParameterError(f"--params-file {path}: not a UTF-8 text file; expected YAML "
                             "or JSON.") from None
    except yaml.YAMLError as exc:
        raise ParameterError(f"--params-file {path}: not valid YAML ({exc}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParameterError(f"--params-file {path}: expected a mapping of name: value.")
    return data


def _json_or_yaml(text: str) -> Any:
    import yaml

    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)


def resolve(
    pipeline: Pipeline, from_file: dict[str, Any] | None = None, from_cli: dict[str, str] | None
    = None, file_label: str = "--params-file"
) -> dict[str, Any]:
    """The values set from outside, typed: file values first, command-line values win.

    file_label names where `from_file` came from in error messages (notebook CI passes its
    parameter set's name).

    Only values the user set are returned: the notebook's own defaults stay in its
    parameters cell (a computed default runs as written).
    """
    declared = {p.name: p for p in pipeline.parameters}
    values: dict[str, Any] = {}
    for source, given, textual in ((file_label, from_file or {}, False),
                                   ("-p", from_cli or {}, True)):
        for name, raw in given.items():
            param = declared.get(name)
            if param is None:
                raise ParameterError(_unknown(name, source, declared))
            values[name] = _typed(param, raw, textual, source)
    return values


def check(
    pipeline: Pipeline, values: dict[str, Any], *, textual: bool = False,
    label: str = "parameter",
) -> dict[str, Any]:
    """Values given in Python (the Python API, a form), typed and checked as -p values are.

    textual: the values are text typed by the parameter's declared type, exactly as `-p`
    values (a form's text box); otherwise they are Python values, checked as a params file's.
    label: how an error names the source, e.g. "parameter n=...: expected a whole number".
    """
    declared = {p.name: p for p in pipeline.parameters}
    typed: dict[str, Any] = {}
    for name, raw in values.items():
        param = declared.get(name)
        if param is None:
            raise ParameterError(_unknown(name, label, declared))
        typed[name] = _typed(param, raw, textual, label)
    return typed


def effective(pipeline: Pipeline, overrides: dict[str, Any]) -> dict[str, Any]:
    """Defaults with the overrides applied: what the steps see, for cache keys and tracking."""
    values = {p.name: p.default for p in pipeline.parameters}
    values.update(overrides)
    return values


def _unknown(name: str, source: str, declared: dict[str, Parameter]) -> str:
    if len(name) > 80:  # a message is one readable paragraph, whatever was sent
        name = f"{name[:60]}... ({len(name)} characters)"
    if not declared:
        return (f"{source} {name}: the notebook has no parameters. Tag the cell that sets "
                "them 'parameters' (papermill's tag).")
    close = difflib.get_close_matches(name, declared, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"{source} {name}: no such parameter; parameters are {', '.join(declared)}.{hint}"


def _typed(param: Parameter, raw: Any, textual: bool, source: str) -> Any:
    where = f"{source} {param.name}"
    if textual and isinstance(raw, str):
        raw = _from_text(param, raw, where)
    if raw is None:
        if param.nullable or param.type == "any":
            return None
        raise ParameterError(f"{where}: None is not a valid {param.type}.")
    value = _check_type(param, raw, where)
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"{where}: {value} cannot be passed (JSON has no inf or NaN).")
    if param.choices is not None and not _is_choice(value, param.choices):
        raise ParameterError(f"{where}={value!r}: must be one of {param.choices}.")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if param.minimum is not None and value < param.minimum:
            raise ParameterError(f"{where}={value}: must be at least {param.minimum:g}.")
        if param.maximum is not None and value > param.maximum:
            raise ParameterError(f"{where}={value}: must be at most {param.maximum:g}.")
    _check_json(value, where)
    return value


def _is_choice(value: Any, choices: list[Any]) -> bool:
    """`value in choices`, except that True and False are not the numbers 1 and 0."""
    return any(value == c and isinstance(value, bool) == isinstance(c, bool) for c in choices)


def _from_text(param: Parameter, text: str, where: str) -> Any:
    kind = param.type
    if text.lower() in ("none", "null") and (param.nullable or kind == "any"):
        return None
    try:
        if kind == "str":
            return text
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        if kind in ("list", "dict"):
            return json.loads(text)
    except ValueError:
        raise ParameterError(f"{where}={text!r}: not a valid {_kind_text(kind)}.") from None
    try:  # 'any': JSON if it reads as JSON, else the text itself
        return json.loads(text)
    except ValueError:
        return text


def _kind_text(kind: str) -> str:
    return {
        "int": "whole number", "float": "number", "bool": "boolean (true/false)",
        "list": "JSON list, e.g. [1, 2]", "dict": 'JSON object, e.g. {"a": 1}',
    }.get(kind, kind)


def _check_type(param: Parameter, value: Any, where: str) -> Any:
    kind = param.type
    if kind == "any":
        return value
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = {"int": int, "float": float, "str": str, "bool": bool, "list": list,
                "dict": dict}[kind]
    if isinstance(value, bool) and kind != "bool" or not isinstance(value, expected):
        raise ParameterError(f"{where}={value!r}: expected a {_kind_text(kind)}, got "
                             f"{type(value).__name__}.")
    return value


def _check_json(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"{where}: {value} cannot be passed (JSON has no inf or NaN).")
    try:
        exact = _exact_json(value)
    except RecursionError:
        exact = False
    if not exact:
        raise ParameterError(f"{where}: {value!r} is not a JSON value (finite numbers, "
                             "strings, booleans, null, lists, objects with string keys).")


def _exact_json(value: Any) -> bool:
    """Whether the value is JSON as it stands. `json.dumps` alone is too lenient: it turns
    the key 1 into "1" and a tuple into a list, so the notebook would get something else."""
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_exact_json(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _exact_json(v) for k, v in value.items())
    return False
