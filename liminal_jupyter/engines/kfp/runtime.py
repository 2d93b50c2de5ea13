"""What a compiled step component runs inside its pod (or kfp.local subprocess).

Each generated component calls `run_step` with the pipeline IR (embedded in the component's
source as a JSON string literal), its step name, the values of the parameters it reads, the
local paths of its upstream steps' output artifacts and its own output artifacts. The step
itself runs through `liminal_jupyter.step.execute.execute_step`, the same entry point the
local runner uses, so a local run predicts a cluster run.

Output layout: the step's `step_outputs` Dataset artifact is a folder holding what the step
executor writes (step.ipynb, executed.ipynb, artifacts/, outputs.json) plus
`liminal-manifest.json`, whose saved-value records have paths relative to that folder: a
downstream step maps them onto wherever its orchestrator put the artifact.

Models: each `model:VAR` of the step also gets its own `Output[Model]` artifact, a copy of
the variable's saved file (or folder) with metadata `marshaller`, `variable`,
`registered_name` and `framework` (the top-level module of the value's type, e.g. sklearn).
Downstream steps still read the value from `step_outputs`.

Working directory: a pod has no notebook folder, so the kernel runs in a fresh temporary
directory (or in $LIMINAL_WORKDIR when that names an existing folder, e.g. a mounted
volume): relative paths in the notebook resolve there, not next to the notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

KFP_MANIFEST = "liminal-manifest.json"


def run_step(
    ir: str,
    step: str,
    parameters: dict[str, Any],
    inputs: dict[str, str],
    step_outputs: Any,
    executed_notebook: Any = None,
    metrics: Any = None,
    models: dict[str, Any] | None = None,
    executed_html: Any = None,
) -> dict[str, float]:
    """Run one step; raise RuntimeError with the step's one-paragraph error if it fails.

    inputs: producer step name -> local path of its `step_outputs` artifact folder.
    step_outputs / executed_notebook / metrics: the component's kfp Output artifacts.
    models: model:VAR variable -> its kfp Output[Model] artifact.
    executed_html: the kfp Output[HTML] artifact that receives the executed notebook as a
    standalone page (rendered before a failure is raised, so a failed step has one too).
    Returns the step's metrics (also logged on `metrics`).
    """
    from liminal_jupyter.pipeline import Pipeline
    from liminal_jupyter.step.execute import EXECUTED_NOTEBOOK, execute_step
    from liminal_jupyter.step.html import render_step_page

    pipeline = Pipeline.from_json(json.loads(ir))
    the_step = pipeline.step(step)
    values = _parameter_values(pipeline, parameters)
    saved = _saved_inputs(inputs)
    wanted = {i.name for i in the_step.data_inputs}
    missing = sorted(wanted - set(saved))
    if missing:
        raise RuntimeError(
            f"step '{step}': the upstream artifacts carry no saved value for "
            f"{', '.join(missing)}; were they produced by this pipeline version?"
        )
    out = Path(step_outputs.path)
    out.mkdir(parents=True, exist_ok=True)
    result = execute_step(
        pipeline, step, values, {k: v for k, v in saved.items() if k in wanted}, out,
        cwd=_workdir(), log_output=True, timeout=the_step.options.timeout,
    )
    if executed_notebook is not None and result.executed_notebook:
        shown = Path(result.executed_notebook)
        if shown.is_file():
            shutil.copyfile(shown, executed_notebook.path)
    elif executed_notebook is not None and (out / EXECUTED_NOTEBOOK).is_file():
        shutil.copyfile(out / EXECUTED_NOTEBOOK, executed_notebook.path)
    if executed_html is not None:
        render_step_page(result.executed_notebook or str(out / EXECUTED_NOTEBOOK),
                         executed_html.path)
    if not result.succeeded:
        raise RuntimeError(result.error.render() if result.error else f"step '{step}' failed")
    manifest = {
        "step": step,
        "outputs": {name: {**record, "path": _relative(record["path"], out)}
                    for name, record in result.outputs.items()},
        "metrics": result.metrics,
    }
    (out / KFP_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True),
                                    encoding="utf-8")
    if metrics is not None:
        for name, value in result.metrics.items():
            metrics.log_metric(name, value)
    registered = {m.variable: m.registered_name for m in the_step.models}
    for variable, artifact in (models or {}).items():
        record = result.outputs.get(variable)
        if record is None:
            raise RuntimeError(f"step '{step}': model:{variable} was not saved by the step")
        _export_model(variable, record, registered.get(variable), artifact)
    return result.metrics


def _export_model(variable: str, record: dict[str, Any], registered_name: str | None,
                  artifact: Any) -> None:
    """Copy a saved model variable into its kfp Model artifact and describe it."""
    source, target = Path(record["path"]), Path(artifact.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, target)
    artifact.metadata.update({
        "marshaller": record.get("marshaller"),
        "variable": variable,
        "registered_name": registered_name,  # None: not to be registered
        "framework": _framework(record),
    })


def _framework(record: dict[str, Any]) -> str:
    """The top-level module of the saved value's type ('sklearn', 'torch', ...), or
    'unknown' when the value cannot be loaded here."""
    try:
        from liminal_jupyter.step.marshal import SavedValue, load_value

        value = load_value(SavedValue.from_dict(record))
    except Exception:  # a courtesy: the artifact is there either way
        return "unknown"
    return type(value).__module__.split(".", 1)[0] or "unknown"


def _parameter_values(pipeline: Any, given: dict[str, Any]) -> dict[str, Any]:
    """KFP values -> the JSON values papermill injects. None means: not set, so the
    notebook's parameters cell keeps its own (possibly computed) default."""
    types = {p.name: p.type for p in pipeline.parameters}
    values: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        kind = types.get(name)
        if kind == "any" and isinstance(value, str):
            value = json.loads(value)
        elif kind == "int" and isinstance(value, float) and value.is_integer():
            value = int(value)  # KFP may hand ints back as floats
        elif kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[name] = value
    return values


def _saved_inputs(inputs: dict[str, str]) -> dict[str, dict[str, Any]]:
    saved: dict[str, dict[str, Any]] = {}
    for producer, path in inputs.items():
        folder = Path(path)
        try:
            manifest = json.loads((folder / KFP_MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(
                f"the output artifact of step '{producer}' at {folder} has no readable "
                f"{KFP_MANIFEST} ({exc})"
            ) from None
        for name, record in manifest["outputs"].items():
            saved[name] = {**record, "path": str(folder / record["path"])}
    return saved


def _relative(path: str, folder: Path) -> str:
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        raise RuntimeError(f"saved value {path} is outside the step's output folder") from None


def _workdir() -> str:
    chosen = os.environ.get("LIMINAL_WORKDIR")
    if chosen and Path(chosen).is_dir():
        return chosen
    return tempfile.mkdtemp(prefix="liminal-workdir-")
