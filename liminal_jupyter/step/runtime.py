"""The in-step runtime every engine's task shares: a KFP component, an Airflow task, a pod.

An engine's task receives the pipeline IR, its step's name, parameter values as its
orchestrator hands them over, and the folders its upstream steps wrote. What it does with
them is the same everywhere, so it lives here once:

- parameter values become the JSON values papermill injects (`parameter_values`);
- a step's saved values are described by a manifest in its output folder, with paths
  relative to that folder, so a downstream task finds them wherever its orchestrator put
  the folder (`write_manifest`, `read_manifest`);
- the kernel's working directory is made, filled and harvested the same way (workdir.py).

Only the standard library at import time: a task pays for what its step needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST = "liminal-manifest.json"
"""In a step's output folder: its saved values (paths relative to the folder) and metrics."""


class StepFailed(RuntimeError):
    """The step failed, or its inputs are not there; the message says which and why."""


def parameter_values(pipeline: Any, given: dict[str, Any] | None,
                     *, any_as_json: bool = False) -> dict[str, Any]:
    """An orchestrator's values -> the JSON values papermill injects.

    Names the pipeline does not declare are dropped; None means "not set", so the notebook's
    parameters cell keeps its own (possibly computed) default. Orchestrators may hand ints
    back as floats (KFP does) and take a float's default as an int: both are put back as
    declared. any_as_json: values of type 'any' arrive as JSON text (KFP's STRING).
    """
    types = {p.name: p.type for p in pipeline.parameters}
    values: dict[str, Any] = {}
    for name, value in (given or {}).items():
        if name not in types or value is None:
            continue
        kind = types[name]
        if kind == "any" and any_as_json and isinstance(value, str):
            value = json.loads(value)
        elif kind == "int" and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[name] = value
    return values


def write_manifest(folder: Path, step: str, outputs: dict[str, dict[str, Any]],
                   metrics: dict[str, Any], files: list[str] | None = None) -> dict[str, Any]:
    """Describe a succeeded step's saved values, relative to `folder`, in its MANIFEST;
    `files`: the files it wrote in its working directory, kept under `folder`/files/."""
    from liminal_jupyter.atomic import atomic_write_text

    manifest = {
        "step": step,
        "outputs": {name: {**record, "path": relative_to(record["path"], folder)}
                    for name, record in outputs.items()},
        "metrics": metrics or {},
        "files": sorted(files or []),
    }
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True,
                                                    default=str))
    return manifest


def read_manifest(folder: Path, producer: str) -> dict[str, dict[str, Any]]:
    """Saved-value records of the step that wrote `folder`, with absolute paths."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StepFailed(f"the outputs of step '{producer}' are not in {folder} (no readable "
                         f"{MANIFEST}: {exc}); did '{producer}' succeed in this run?") from None
    return {name: {**record, "path": str(folder / record["path"])}
            for name, record in (manifest.get("outputs") or {}).items()}


def relative_to(path: str, folder: Path) -> str:
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        raise StepFailed(f"saved value {path} is outside the step's folder {folder}") from None


def file_inputs(step: Any, folders: dict[str, Path]) -> dict[str, Path]:
    """The files the step reads that earlier steps wrote: path -> the writer's output
    folder (`folders`: producer step -> its output folder, as the orchestrator put it)."""
    return {i.name: folders[i.producer] for i in step.inputs
            if i.kind == "file" and i.producer in folders}
