"""The values a run kept, from a terminal: find one, summarise it, export it, and say
what a step did not keep and why.

Reads only the run store and the step folders every engine fills the same way (the step
executor's manifest `outputs.json` beside the executed notebook), so it works for any
engine whose artifacts are on this machine. Loading goes through the marshallers' load
path only (step/marshal.py: hash-verified); pandas is imported only to export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.store import RunStore, StepRecord

HEAD_ROWS = 5
EXPORT_FORMATS = (".csv", ".parquet", ".json")


class ValueNotFound(LookupError):
    """No step of the run kept that value; the message lists what was kept."""


def manifest(record: StepRecord, store: RunStore) -> dict[str, Any]:
    """The step's manifest (outputs, metrics, kept, not_kept), or {} if it has none."""
    folders = [store.step_dir(record.run_id, record.step)]
    if record.executed_notebook:
        folders.insert(0, Path(record.executed_notebook).parent)
    for folder in folders:
        try:
            return json.loads((folder / "outputs.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return {}


def not_kept(record: StepRecord, store: RunStore) -> dict[str, str]:
    """name -> why the step did not keep it (over keep_max, not savable, not defined)."""
    return dict(manifest(record, store).get("not_kept") or {})


def manifest_outputs(store: RunStore, run_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """step -> saved-value records (absolute paths), from the step manifests in the run's
    folder that name their step: how the values of an engine that records no outputs in
    the ledger (kfp-local keeps them in its pipeline root) are still reachable."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    run_dir = store.run_dir(run_id)
    for path in sorted(run_dir.rglob("outputs.json")) if run_dir.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        step = data.get("step") if isinstance(data, dict) else None
        step = step if isinstance(step, str) else _rendered_step(path.parent)
        if step is None:
            continue
        for name, record in (data.get("outputs") or {}).items():
            if isinstance(record, dict) and "path" in record:
                found.setdefault(step, {})[name] = {
                    **record, "path": str(path.parent / record["path"])}
    return found


def _rendered_step(folder: Path) -> str | None:
    """The step a step executor's folder belongs to: its rendered step.ipynb says."""
    try:
        data = json.loads((folder / "step.ipynb").read_text(encoding="utf-8"))
        step = data["metadata"]["liminal"]["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return step if isinstance(step, str) else None


def find_saved(store: RunStore, run_id: str, name: str, step: str | None = None
               ) -> tuple[str, dict[str, Any]]:
    """(step, saved-value record) of the last step, in run order, that kept `name`."""
    records = store.steps(run_id)
    if step is not None:
        records = [r for r in records if r.step == step]
        if not records:
            names = ", ".join(r.step for r in store.steps(run_id))
            raise ValueNotFound(f"run {run_id} has no step {step!r}; its steps are: {names}")
    for record in reversed(records):
        if name in record.outputs:
            saved = record.outputs[name]
            if isinstance(saved, list):  # a fan-out step's output: its first element's
                saved = saved[0] if saved else {}  # (each element's record has its own)
            saved = dict(saved)
            if saved and not Path(saved["path"]).is_absolute():  # beside the notebook
                saved["path"] = str(store.root.parent / saved["path"])
            return record.step, saved
    in_manifests = manifest_outputs(store, run_id)
    for record in reversed(records):
        if name in in_manifests.get(record.step, {}):
            return record.step, in_manifests[record.step][name]
    why = {n: f"{r.step}: {reason}" for r in records for n, reason in
           not_kept(r, store).items()}
    kept = sorted({n for r in records for n in r.outputs})
    hint = (f" It was not kept ({why[name]})." if name in why else
            " Tag the step that defines it keep:all to keep every value it defines.")
    raise ValueNotFound(f"run {run_id} kept no value {name!r}.{hint} Kept: "
                        f"{', '.join(kept) or 'none'}.")


def load_saved(saved: dict[str, Any]) -> Any:
    """The value, through the marshallers' load path (its hash is checked first)."""
    from liminal_jupyter.step.marshal import load_value

    return load_value(saved)


def summary(value: Any, rows: int = HEAD_ROWS) -> str:
    """What the value is, in a few lines: type, shape or length, and its head."""
    kind = type(value)
    lines = [f"type:  {kind.__module__}.{kind.__qualname__}".replace("builtins.", "")]
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        lines.append(f"shape: {shape}")
    elif hasattr(value, "__len__") and not isinstance(value, str | bytes):
        lines.append(f"len:   {len(value)}")
    columns = getattr(value, "dtypes", None)
    if columns is not None and hasattr(columns, "items") and hasattr(value, "columns"):
        lines.append("columns: " + ", ".join(f"{c} ({t})" for c, t in columns.items()))
    lines.append("head:")
    lines.append(_indent(_head(value, rows)))
    return "\n".join(lines)


def _head(value: Any, rows: int) -> str:
    head = getattr(value, "head", None)
    if callable(head) and hasattr(value, "shape"):
        return str(head(rows))
    if hasattr(value, "shape") and hasattr(value, "__getitem__") and getattr(value, "ndim", 0):
        return repr(value[:rows])
    if isinstance(value, dict):
        items = list(value.items())[:rows]
        more = ", ..." if len(value) > rows else ""
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in items) + more + "}"
    if isinstance(value, list | tuple):
        more = ", ..." if len(value) > rows else ""
        return "[" + ", ".join(_short(v) for v in value[:rows]) + more + "]"
    return _short(value, 400)


def _short(value: Any, width: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def export(value: Any, path: str | Path) -> Path:
    """Write the value to `path` as CSV, Parquet or JSON, chosen by the extension.

    Tables (pandas frames and series, arrays, lists of rows or records, dicts of columns)
    go through pandas; JSON also takes any JSON-serialisable value as it is.
    Raises ValueError for another extension, or a value that format cannot hold.
    """
    from liminal_jupyter.atomic import atomic_write_text

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(f"cannot export to {target.name}: the extension says the format, one "
                         f"of {', '.join(EXPORT_FORMATS)}")
    if suffix == ".json" and not _is_table(value):
        try:
            atomic_write_text(target, json.dumps(value, indent=2, default=_plain))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{type(value).__name__} cannot be written as JSON ({exc})"
                             ) from None
        return target
    frame = _frame(value)
    partial = target.with_name(f".{target.name}.partial")
    try:
        if suffix == ".csv":
            frame.to_csv(partial, index=not _plain_index(frame))
        elif suffix == ".parquet":
            frame.to_parquet(partial)
        else:
            frame.to_json(partial, orient="records", indent=2)
    except (ImportError, TypeError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise ValueError(f"{type(value).__name__} cannot be written as {suffix[1:]} ({exc})"
                         ) from None
    partial.replace(target)
    return target


def _is_table(value: Any) -> bool:
    return type(value).__module__.split(".")[0] in ("pandas", "numpy", "polars")


def _frame(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame()
    try:
        if isinstance(value, dict) and not all(hasattr(v, "__len__") for v in value.values()):
            return pd.DataFrame([value])
        return pd.DataFrame(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{type(value).__name__} is not a table ({exc}); export it as .json"
                         ) from None


def _plain_index(frame: Any) -> bool:
    import pandas as pd

    return isinstance(frame.index, pd.RangeIndex) and frame.index.name is None


def _plain(value: Any) -> Any:
    item = getattr(value, "tolist", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
