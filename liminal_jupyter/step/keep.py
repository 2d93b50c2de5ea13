"""Inside the step's kernel: save the values a step keeps for after the run.

Unlike outputs (which later steps need, so a failure to save one fails the step), a kept
value is a convenience: one that is missing, too large or cannot be marshalled is noted
with the reason in the step's manifest (`not_kept`) and the step still succeeds.
"""

from __future__ import annotations

import inspect
import types
from pathlib import Path
from typing import Any


def keep_values(namespace: dict[str, Any], names: list[str], directory: Path,
                cap: int | None) -> tuple[dict[str, dict], dict[str, str]]:
    """Save each of `names` found in `namespace` under `directory`, up to `cap` bytes each.

    Returns (name -> saved-value record, name -> why it was not kept). Modules, functions
    and classes are code, re-created by running the notebook, and are passed over silently.
    """
    from liminal_jupyter.step.marshal import MarshalError, save_value

    kept: dict[str, dict] = {}
    not_kept: dict[str, str] = {}
    for name in names:
        if name not in namespace:
            not_kept[name] = "not defined at the end of the step"
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType) or inspect.isroutine(value) or isinstance(
                value, type):
            continue
        estimate = _estimated_size(value)
        if cap is not None and estimate is not None and estimate > cap:
            not_kept[name] = f"about {_human(estimate)} in memory, over keep_max {_human(cap)}"
            continue
        try:
            saved = save_value(name, value, directory)
        except MarshalError as exc:
            not_kept[name] = f"could not be saved: {exc.problem}"
            continue
        if cap is not None and saved.size > cap:
            Path(saved.path).unlink(missing_ok=True)
            not_kept[name] = f"{_human(saved.size)} saved, over keep_max {_human(cap)}"
            continue
        kept[name] = saved.to_dict()
        print(f"liminal: kept {name} ({saved.marshaller}, {saved.size} bytes)")
    for name, why in not_kept.items():
        print(f"liminal: not kept {name}: {why}")
    return kept, not_kept


def _estimated_size(value: Any) -> int | None:
    """Bytes an array or frame holds, known without copying it; None for other values."""
    memory_usage = getattr(value, "memory_usage", None)
    if callable(memory_usage) and hasattr(value, "columns"):
        try:
            return int(memory_usage(index=True, deep=False).sum())
        except (TypeError, ValueError, AttributeError):  # an odd frame: saved size decides
            return None
    nbytes = getattr(value, "nbytes", None)
    return nbytes if isinstance(nbytes, int) else None


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"
