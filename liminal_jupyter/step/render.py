"""One step of a pipeline as a standalone, papermill-ready notebook.

Every backend runs a step the same way: this module writes the step's notebook and
papermill executes it (`liminal_jupyter.step.execute`). Its cells, in order:

1. `parameters` (papermill's tag): the notebook's parameters cells. papermill injects the
   run's values after it, as literals, so a parameter value is never pasted into code.
2. the prelude (`imports` and `functions` cells), as in every step.
3. load: re-runs the imports made by earlier steps, then loads the variables earlier
   steps saved. Which files to load reaches the kernel as JSON data (a string literal),
   never as code built from values.
4. the step's own cells, with their original ids and `metadata.liminal.source_cell`, so a
   failure is reported against the cell the user wrote.
5. save: saves the variables later steps read, evaluates the step's metrics and writes
   the manifest `outputs.json` atomically; the manifest existing means the step finished.

The second half of this module (`load_inputs`, `save_outputs`) runs inside the step's
kernel: the generated load and save cells are one call each, so the executed notebook
stays readable and the logic stays testable. Nothing heavy is imported at module level,
because the kernel imports this module too.
"""

from __future__ import annotations

import ast
import json
import math
import numbers
import re
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.atomic import atomic_write_text
from liminal_jupyter.notebook.keep import keep_max

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from liminal_jupyter.pipeline import CellRef, Parameter, Pipeline, Step

MANIFEST = "outputs.json"
"""Written last by the save cell, into the step's output directory."""

ARTIFACTS = "artifacts"
"""Sub-directory of the output directory that holds the saved variables."""

# nbformat 4.5 cell ids.
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


# --------------------------------------------------------------------------------------
# Rendering (host side).


def render_step(
    pipeline: Pipeline,
    step_name: str,
    inputs: dict[str, dict],
    output_dir: str,
    *,
    prelude_ran: bool = False,
    environment: dict[str, str] | None = None,
    element: int | None = None,
) -> NotebookNode:
    """The notebook that runs step `step_name` alone, in a fresh kernel.

    `inputs` maps each data input of the step to its saved-value record (the dict form of
    `SavedValue`, as produced by the upstream step's manifest); extra entries are ignored,
    so a runner may pass every output it has. `prelude_ran`: the kernel has already run
    the prelude (a warm kernel of the local runner), so it is left out. Raises ValueError
    for an unknown step, a missing or malformed input record, or an import input that is
    not an import statement. `environment`: variables set by a first cell (the step's
    env: tags, for a kernel that was not started with them). `element`: for a step tagged
    foreach:NAME, which element of NAME this run is for (0-based); required for such a
    step, refused for any other.
    """
    from nbformat import v4

    step = _find_step(pipeline, step_name)
    foreach = _foreach_payload(pipeline, step, element, str(Path(output_dir).resolve()))
    part = pipeline.part(step)  # the step's own notebook's prelude and parameters cells
    output_dir = str(Path(output_dir).resolve())
    used_ids: set[str] = set()
    cells = [_parameters_cell(pipeline, part.parameter_cells)]
    if environment:
        values = {str(k): str(v) for k, v in environment.items()}
        cells.insert(0, _code_cell(
            f"import os as _liminal_os\n_liminal_os.environ.update({values!r})\n"
            "del _liminal_os", {"liminal": {"role": "environment"}}))
    if prelude_ran and part.prelude:
        cells.append(v4.new_markdown_cell(
            "The prelude (`imports` and `functions` cells, "
            + ", ".join(str(ref.index + 1) for ref in part.prelude)
            + ") ran in this kernel before the step started.",
            metadata={"liminal": {"role": "prelude-note"}},
        ))
    else:
        cells += [_source_cell(ref, "prelude", used_ids) for ref in part.prelude]
    cells.append(_load_cell(step, inputs, foreach))
    cells += [_source_cell(ref, "step", used_ids) for ref in step.cells]
    cells.append(_save_cell(step, output_dir, keep_max(pipeline.settings)))
    return v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "name": pipeline.kernel,
                "display_name": pipeline.kernel,
                "language": "python",
            },
            "language_info": {"name": "python"},
            "liminal": {"pipeline": pipeline.name, "step": step.name},
        },
    )


def _foreach_payload(pipeline: Pipeline, step: Step, element: int | None,
                     output_dir: str) -> dict[str, Any] | None:
    """What the load cell needs to bind NAME to one element (step/foreach.py)."""
    from liminal_jupyter.step.foreach import foreach_max

    if step.foreach is None:
        if element is not None:
            raise ValueError(f"step '{step.name}' has no foreach: tag, so it has no elements")
        return None
    if element is None or isinstance(element, bool) or not isinstance(element, int) \
            or element < 0:
        raise ValueError(f"step '{step.name}' runs once per element of {step.foreach}: give "
                         f"the element to run (0-based), not {element!r}")
    return {"step": step.name, "name": step.foreach, "index": element,
            "max": foreach_max(step.options.foreach_max, pipeline.settings),
            "output_dir": output_dir}


def _find_step(pipeline: Pipeline, step_name: str) -> Step:
    try:
        return pipeline.step(step_name)
    except KeyError:
        names = ", ".join(s.name for s in pipeline.steps) or "none"
        raise ValueError(
            f"pipeline '{pipeline.name}' has no step named {step_name!r}; its steps are {names}"
        ) from None


def _code_cell(source: str, metadata: dict[str, Any], cell_id: str | None = None) -> Any:
    from nbformat import v4

    extra = {"id": cell_id} if cell_id else {}
    return v4.new_code_cell(source=source, metadata=metadata, **extra)


def _source_cell(ref: CellRef, role: str, used_ids: set[str]) -> Any:
    """A cell copied from the notebook, keeping its id where nbformat allows it."""
    cell_id = ref.id if ref.id and _CELL_ID.match(ref.id) and ref.id not in used_ids else None
    if cell_id:
        used_ids.add(cell_id)
    metadata = {"liminal": {"role": role, "source_cell": {"index": ref.index, "id": ref.id}}}
    return _code_cell(ref.source, metadata, cell_id)


# -- the parameters cell ---------------------------------------------------------------


def _parameters_cell(pipeline: Pipeline, parameter_cells: list[CellRef]) -> Any:
    """papermill's `parameters` cell: defaults first, the injected values come after it.

    Emitted even when the pipeline has no parameters, so papermill always has a place to
    inject and never warns. `parameter_cells`: those of the step's notebook.
    """
    refs = [(cell.index, cell.id) for cell in parameter_cells]
    if parameter_cells:
        source = "\n\n".join(cell.source for cell in parameter_cells)
    else:
        # An IR built by hand (not from a notebook) may carry parameters but no cells.
        source = _literal_assignments(pipeline.parameters)
    metadata = {
        "tags": ["parameters"],
        "liminal": {
            "role": "parameters",
            "source_cells": [{"index": index, "id": cell_id} for index, cell_id in refs],
        },
    }
    return _code_cell(source, metadata)


def _literal_assignments(parameters: list[Parameter]) -> str:
    """`name = literal  # help` for each parameter, from the IR's defaults."""
    lines = []
    for param in parameters:
        if not param.name.isidentifier():
            raise ValueError(f"pipeline parameter {param.name!r} is not a Python name")
        line = f"{param.name} = {_literal(param.default)}"
        # Only printable characters: IPython splits cells on every Unicode line break.
        comment = "".join(ch for ch in param.help if ch.isprintable()).strip()
        lines.append(f"{line}  # {comment}" if comment else line)
    return "\n".join(lines)


def _literal(value: Any) -> str:
    """A Python literal for a JSON value; repr of these types is always a literal."""
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"parameter default {value!r} is not a JSON value")


# -- the load and save cells -----------------------------------------------------------


def _load_cell(step: Step, inputs: dict[str, dict],
               foreach: dict[str, Any] | None = None) -> Any:
    statements = _import_statements(step)
    payload: dict[str, Any] = {"step": step.name, "inputs": _input_records(step, inputs)}
    if foreach:
        payload["foreach"] = foreach
    source = "\n".join(
        [
            "# liminal: this step's inputs. Imports made by earlier steps run again; variables",
            "# made by earlier steps are loaded from the files those steps saved.",
            *statements,
            "from liminal_jupyter.step.render import load_inputs as _liminal_load_inputs",
            "",
            f"_liminal_load_inputs(globals(), {_data_literal(payload)})",
            "del _liminal_load_inputs",
        ]
    )
    return _code_cell(source, {"liminal": {"role": "load"}})


def _save_cell(step: Step, output_dir: str, max_kept: int) -> Any:
    payload = {
        "step": step.name,
        "output_dir": output_dir,
        "outputs": list(step.outputs),
        "keep": list(step.keep),
        "keep_max": max_kept,
        "metrics": [{"name": m.name, "expression": m.expression} for m in step.metrics],
    }
    source = "\n".join(
        [
            "# liminal: save the variables later steps read, and this step's metrics.",
            "from liminal_jupyter.step.render import save_outputs as _liminal_save_outputs",
            "",
            f"_liminal_save_outputs(globals(), {_data_literal(payload)})",
            "del _liminal_save_outputs",
        ]
    )
    return _code_cell(source, {"liminal": {"role": "save"}})


def _data_literal(payload: dict[str, Any]) -> str:
    """Data as a Python string literal holding JSON: values never become code.

    ensure_ascii keeps the literal free of line breaks IPython would split on.
    """
    return repr(json.dumps(payload, ensure_ascii=True, sort_keys=True))


def _import_statements(step: Step) -> list[str]:
    """The import inputs' statements, checked to be nothing but imports.

    They come from our parser (`ast.unparse` of an import), but the IR may have travelled
    as JSON, so they are checked before they are pasted into code.
    """
    statements: list[str] = []
    for inp in step.inputs:
        if inp.kind != "import" or not inp.statement or inp.statement in statements:
            continue
        try:
            body = ast.parse(inp.statement).body
        except SyntaxError:
            body = []
        if not body or not all(isinstance(s, ast.Import | ast.ImportFrom) for s in body):
            raise ValueError(
                f"step '{step.name}': input {inp.name!r} has import statement "
                f"{inp.statement!r}, which is not an import statement"
            )
        statements.append(inp.statement)
    return statements


def _input_records(step: Step, inputs: dict[str, dict]) -> dict[str, dict]:
    """The saved-value record of each data input of the step; missing ones are an error."""
    from liminal_jupyter.step.marshal import SavedValue

    missing = [i for i in step.data_inputs if i.name not in inputs]
    if missing:
        needed = ", ".join(f"'{i.name}' (from step '{i.producer}')" for i in missing)
        raise ValueError(
            f"step '{step.name}' reads {needed}, but no saved value was given for it; "
            "run the producing step first and pass its outputs"
        )
    records: dict[str, Any] = {}
    for inp in step.data_inputs:
        given = inputs[inp.name]
        try:
            if isinstance(given, list):  # the outputs of a fan-out step, in element order
                records[inp.name] = [SavedValue.from_dict(r).to_dict() for r in given]
            else:
                records[inp.name] = SavedValue.from_dict(given).to_dict()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"step '{step.name}': input '{inp.name}': {exc}") from None
    return records


# --------------------------------------------------------------------------------------
# Inside the step's kernel: what the load and save cells call.


class MetricError(Exception):
    """A metric expression failed, or its value is not a finite number."""


def load_inputs(namespace: dict[str, Any], payload: str) -> None:
    """Load each input named in `payload` (JSON) into the kernel's `namespace`."""
    from liminal_jupyter.step.marshal import MarshalError, load_value

    data = json.loads(payload)
    for name, record in data["inputs"].items():
        if isinstance(record, list):  # a fan-out step's outputs: a list, in element order
            try:
                values = [load_value(r) for r in record]
            except MarshalError as exc:
                raise exc.with_step(data["step"]) from None
            namespace[name] = [_rebind(v, namespace) for v in values]
            print(f"liminal: loaded {name} (a list of {len(record)}, one per element)")
            continue
        try:
            value = load_value(record)
        except MarshalError as exc:
            raise exc.with_step(data["step"]) from None
        namespace[name] = _rebind(value, namespace)
        print(f"liminal: loaded {name} ({record['marshaller']}, {record['size']} bytes)")
    if data.get("foreach"):
        from liminal_jupyter.step.foreach import bind_element

        bind_element(namespace, data["foreach"])


def _rebind(value: Any, namespace: dict[str, Any]) -> Any:
    """A notebook function, re-created to look up its free names in this kernel.

    cloudpickle gives a loaded function a private globals dict holding only what it
    referenced when saved. In the notebook, its free names resolve in the one shared
    namespace at call time; rebinding to this step's globals restores that. A name the
    step does not define keeps the value captured when the function was saved.
    Library functions (pickled by reference) are left alone.
    """
    if not isinstance(value, types.FunctionType) or value.__module__ not in ("__main__", None):
        return value
    for name, captured in value.__globals__.items():
        if not name.startswith("__"):
            namespace.setdefault(name, captured)
    rebound = types.FunctionType(
        value.__code__, namespace, value.__name__, value.__defaults__, value.__closure__
    )
    rebound.__kwdefaults__ = value.__kwdefaults__
    rebound.__dict__.update(value.__dict__)
    rebound.__qualname__ = value.__qualname__
    rebound.__doc__ = value.__doc__
    rebound.__module__ = value.__module__
    rebound.__annotations__ = value.__annotations__
    return rebound


def save_outputs(namespace: dict[str, Any], payload: str) -> None:
    """Save the outputs and metrics named in `payload` (JSON), then write the manifest."""
    from liminal_jupyter.step.keep import keep_values
    from liminal_jupyter.step.marshal import MarshalError, save_value

    data = json.loads(payload)
    step, output_dir = data["step"], Path(data["output_dir"])
    outputs = {}
    for name in data["outputs"]:
        if name not in namespace:
            raise MarshalError(
                name,
                "is not defined at the end of the step, so it cannot be passed to the steps "
                "that read it. Check that every path through the step assigns it (was it "
                "deleted, or assigned only inside an `if`?)",
                step,
            )
        try:
            saved = save_value(name, namespace[name], output_dir / ARTIFACTS)
        except MarshalError as exc:
            raise exc.with_step(step) from None
        outputs[name] = saved.to_dict()
        print(f"liminal: saved {name} ({saved.marshaller}, {saved.size} bytes)")
    metrics = {m["name"]: _metric_value(m, namespace, step) for m in data["metrics"]}
    for name, value in metrics.items():
        print(f"liminal: metric {name} = {value!r}")
    kept, not_kept = keep_values(namespace, data.get("keep", []), output_dir / ARTIFACTS,
                                 data.get("keep_max"))
    manifest = {"outputs": {**outputs, **kept}, "metrics": metrics, "kept": sorted(kept),
                "not_kept": not_kept}
    atomic_write_text(output_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))


def _metric_value(metric: dict[str, str], namespace: dict[str, Any], step: str) -> float:
    name, expression = metric["name"], metric["expression"]
    where = f"metric '{name}' ({expression}) of step '{step}'"
    try:
        # The expression is the user's own code from the `metrics` cell, run as written.
        value = eval(expression, namespace)
    except Exception as exc:
        raise MetricError(f"{where} could not be computed: {type(exc).__name__}: {exc}") from None
    number = _as_number(value)
    if number is None:
        raise MetricError(
            f"{where} is {type(value).__module__}.{type(value).__qualname__} {value!r:.80}, "
            "not a number; a metric must be a single number, such as an accuracy"
        )
    if not math.isfinite(number):
        raise MetricError(f"{where} is {number}; a metric must be a finite number")
    return number


def _as_number(value: Any) -> float | None:
    """float(value) for bools, Python and numpy numbers and 0-d arrays; else None."""
    if isinstance(value, bool | numbers.Real):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        inner = item()
        if isinstance(inner, bool | numbers.Real):
            return float(inner)
    return None


