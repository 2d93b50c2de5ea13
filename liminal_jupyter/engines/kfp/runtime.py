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
volume) holding the workspace (the archive compiled in, or fetched from its URL) and the
files earlier steps wrote that this one reads (step/workdir.py). Files the step writes
there are kept in `step_outputs`/files/ and listed in the manifest; a temporary directory
is removed after the step.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from liminal_jupyter.step.runtime import (
    MANIFEST,
    file_inputs,
    parameter_values,
    read_manifest,
    write_manifest,
)
from liminal_jupyter.step.workdir import step_folder

KFP_MANIFEST = MANIFEST  # the name kfp-local's follower reads metrics from


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
    workspace: dict[str, Any] | None = None,
    element: int | None = None,
) -> dict[str, float]:
    """Run one step; raise RuntimeError with the step's one-paragraph error if it fails.

    inputs: producer step name -> local path of its `step_outputs` artifact folder.
    step_outputs / executed_notebook / metrics: the component's kfp Output artifacts.
    models: model:VAR variable -> its kfp Output[Model] artifact.
    executed_html: the kfp Output[HTML] artifact that receives the executed notebook as a
    standalone page (rendered before a failure is raised, so a failed step has one too).
    workspace: the workspace archive's reference (step/workspace_pack.py), None when the
    notebook names no file. element: for a fan-out step (foreach:), the element this task
    runs; inputs from a fan-out producer are lists of folders (dsl.Collected).
    Returns the step's metrics (also logged on `metrics`).
    """
    from liminal_jupyter.startup import skip_slow_optional_imports

    skip_slow_optional_imports()
    from liminal_jupyter.pipeline import Pipeline
    from liminal_jupyter.step.execute import EXECUTED_NOTEBOOK, execute_step
    from liminal_jupyter.step.pages import PageRenderer

    pipeline = Pipeline.from_json(json.loads(ir))
    the_step = pipeline.step(step)
    values = kfp_parameter_values(pipeline, parameters)
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
    handed = file_inputs(the_step, {p: Path(path) for p, path in inputs.items()
                                    if not isinstance(path, list)})
    # The page's libraries load in a child while the kernel starts (step/pages.py).
    pages = PageRenderer(lambda text: print(f"warning: {text}", file=sys.stderr),
                         enabled=executed_html is not None, nice=0)
    pages.start()
    try:
        with step_folder(workspace if the_step.files else None, handed, out) as folder:
            result = execute_step(
                pipeline, step, values, {k: v for k, v in saved.items() if k in wanted}, out,
                cwd=folder.path, log_output=True, timeout=the_step.options.timeout,
                element=element,
            )
    except BaseException:
        pages.kill()
        raise
    if executed_notebook is not None and result.executed_notebook:
        shown = Path(result.executed_notebook)
        if shown.is_file():
            shutil.copyfile(shown, executed_notebook.path)
    elif executed_notebook is not None and (out / EXECUTED_NOTEBOOK).is_file():
        shutil.copyfile(out / EXECUTED_NOTEBOOK, executed_notebook.path)
    if executed_html is not None:
        pages.submit(result.executed_notebook or str(out / EXECUTED_NOTEBOOK),
                     executed_html.path)
        pages.close()
    if not result.succeeded:
        raise RuntimeError(result.error.render() if result.error else f"step '{step}' failed")
    from liminal_jupyter.step.foreach import element_name

    write_manifest(out, step if element is None else element_name(step, element),
                   result.outputs, result.metrics, folder.files)
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


def foreach_elements(ir: str, step: str, parameters: dict[str, Any],
                     inputs: dict[str, Any]) -> list[int]:
    """The indices a fan-out step (foreach:NAME) runs over, for dsl.ParallelFor: NAME is
    a parameter's value, or read from its producer's output folder (or folders, one per
    element of a fan-out producer). Raises ForeachError, one line naming the step and
    NAME's type, when NAME is not a list or has more elements than the step's cap."""
    from liminal_jupyter.pipeline import Pipeline
    from liminal_jupyter.step.foreach import check_elements, foreach_max, load_input

    pipeline = Pipeline.from_json(json.loads(ir))
    the_step = pipeline.step(step)
    name = the_step.foreach
    if parameters:
        value = kfp_parameter_values(pipeline, parameters).get(name)
        if value is None:
            value = next(p.default for p in pipeline.parameters if p.name == name)
    else:
        value = load_input(_saved_inputs(inputs)[name])
    count = check_elements(step, name, value,
                           foreach_max(the_step.options.foreach_max, pipeline.settings))
    return list(range(count))


def kfp_parameter_values(pipeline: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """The step's parameter values as the notebook declared them. KFP carries a list or
    dict parameter as a protobuf Value, whose numbers are all floats: [1, 2] arrives as
    [1.0, 2.0]; whole floats inside lists and dicts become ints again (a list of floats
    written [1.0, 2.5] then holds 1 and 2.5, equal in arithmetic)."""
    values = parameter_values(pipeline, parameters, any_as_json=True)
    types = {p.name: p.type for p in pipeline.parameters}
    return {name: _whole_numbers(value) if types.get(name) in ("list", "dict") else value
            for name, value in values.items()}


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    return value


def _saved_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """name -> saved-value record, from each producer's output folder; a fan-out producer
    gives a list of folders, one per element, and each name then maps to a list of records
    in element order (each element's manifest names it: STEP.I)."""
    from liminal_jupyter.step.foreach import split_element

    saved: dict[str, Any] = {}
    for producer, path in inputs.items():
        if isinstance(path, list):
            manifests = [(_manifest_step(Path(p)), read_manifest(Path(p), producer))
                         for p in path]
            manifests.sort(key=lambda m: split_element(m[0])[1] or 0)
            for name in (manifests[0][1] if manifests else {}):
                saved[name] = [m[1][name] for m in manifests]
        else:
            saved.update(read_manifest(Path(path), producer))
    return saved


def _manifest_step(folder: Path) -> str:
    try:
        return str(json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("step"))
    except (OSError, ValueError):
        return ""
