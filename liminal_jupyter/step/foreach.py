"""Fan-out (`foreach:NAME`): one step run once per element of a list, on every engine.

The rules live here once, so the local runner, a KFP component and an Airflow task agree:

- what an element is called (`STEP.I`, 0-based: the run store's record and folder of
  element I of STEP; `.` is never part of a step name, so it cannot clash with one);
- which lists may fan out (a list or tuple, at most the cap: `foreach-max:N`, else
  `liminal.foreach_max`, else DEFAULT_FOREACH_MAX), and the one-line errors otherwise;
- the element's fingerprint for the cache (its value, not its position, so a list that
  grows by one element re-runs only the new one);
- inside the element's kernel, `bind_element`: the load cell loads NAME as a whole list
  (a parameter papermill injected, or a saved value) and binds NAME to element I.

A step that reads the outputs of a fan-out step receives each as a list, in element
order: its input record is then a list of saved-value records (`load_input`).
Nothing heavy is imported here: the kernel imports this module too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

DEFAULT_FOREACH_MAX = 1000
ELEMENT_FILE = "element.json"
"""Written by the load cell into an element's output folder: its name, index and value
(shortened repr), so a failure names the element whatever engine ran it."""


class ForeachError(ValueError):
    """A fan-out cannot run: not a list, too many elements, or an element out of range."""


def element_name(step: str, index: int) -> str:
    """The run store's name of element `index` of `step`: `train.2`."""
    return f"{step}.{index}"


def split_element(name: str) -> tuple[str, int | None]:
    """`train.2` -> ('train', 2); a plain step name -> (name, None)."""
    step, dot, index = name.rpartition(".")
    if dot and step and index.isdigit():
        return step, int(index)
    return name, None


def foreach_max(options_max: int | None, settings: dict[str, Any] | None) -> int:
    """The cap on a step's elements: its foreach-max: tag, else liminal.foreach_max."""
    if options_max:
        return int(options_max)
    setting = (settings or {}).get("foreach_max")
    return int(setting) if isinstance(setting, int) and setting >= 1 else DEFAULT_FOREACH_MAX


def short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_elements(step: str, name: str, value: Any, cap: int) -> int:
    """How many elements `value` gives step `step` (foreach:`name`); ForeachError when it
    is not a list or tuple, or has more than `cap` elements."""
    if not isinstance(value, list | tuple):
        kind = type(value)
        shown = kind.__qualname__ if kind.__module__ == "builtins" \
            else f"{kind.__module__}.{kind.__qualname__}"
        raise ForeachError(
            f"step '{step}' runs foreach:{name}, but {name} is a {shown} "
            f"({short_repr(value, 40)}), not a list: give it a list of the values to run "
            "the step for")
    if len(value) > cap:
        raise ForeachError(
            f"step '{step}' runs foreach:{name} over {len(value)} elements, more than its "
            f"cap of {cap}: raise it with foreach-max:N on the step (or liminal.foreach_max), "
            "or pass a shorter list")
    return len(value)


def element_fingerprint(value: Any) -> str | None:
    """A content hash of one element, for its cache key: canonical JSON when it is JSON,
    else its pickle; None (not cacheable) when neither can hold it."""
    try:
        data = json.dumps(value, sort_keys=True, separators=(",", ":"),
                          allow_nan=False).encode()
        kind = "json"
    except (TypeError, ValueError):
        import pickle

        try:
            data = pickle.dumps(value, protocol=4)
        except Exception:
            return None
        kind = "pickle"
    return kind + ":" + hashlib.sha256(data).hexdigest()


def load_input(record: Any) -> Any:
    """A saved value, or a list of them (the outputs of a fan-out step), loaded."""
    from liminal_jupyter.step.marshal import load_value

    if isinstance(record, list):
        return [load_value(r) for r in record]
    return load_value(record)


def bind_element(namespace: dict[str, Any], foreach: dict[str, Any]) -> None:
    """Inside the element's kernel: NAME (the whole list) becomes its element `index`."""
    step, name, index = foreach["step"], foreach["name"], int(foreach["index"])
    if name not in namespace:
        raise ForeachError(f"step '{step}' runs foreach:{name}, but {name} is not defined "
                           "when the step starts")
    count = check_elements(step, name, namespace[name], int(foreach.get("max")
                                                            or DEFAULT_FOREACH_MAX))
    if not 0 <= index < count:
        raise ForeachError(f"step '{step}': element {index} of {name} does not exist; the "
                           f"list has {count} elements")
    value = namespace[name][index]
    namespace[name] = value
    record = {"name": name, "index": index, "value": short_repr(value)}
    if foreach.get("output_dir"):
        from liminal_jupyter.atomic import atomic_write_text

        atomic_write_text(Path(foreach["output_dir"]) / ELEMENT_FILE, json.dumps(record))
    print(f"liminal: element {index} of {name}: {name} = {record['value']}")


def read_element(output_dir: str | Path) -> dict[str, Any] | None:
    """What `bind_element` recorded in an element's folder, or None."""
    try:
        data = json.loads((Path(output_dir) / ELEMENT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_element(element: dict[str, Any] | None) -> str:
    """`element 2 of max_depth (5)`, for messages."""
    if not element:
        return ""
    return f"element {element.get('index')} of {element.get('name')} ({element.get('value')})"
