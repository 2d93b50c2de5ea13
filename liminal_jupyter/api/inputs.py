"""A step's inputs, as it read them in a run, loaded into a live kernel for debugging.

The daily loop: a step fails, you want its exact inputs in your notebook, you fix the
cell there and `liminal-nb run --resume`. The values are the artifacts the step read in
that run (the runner's `inputs.json` in the step's folder, else its producers' recorded
outputs), loaded through the marshallers' load path only (step/marshal.py, hash-checked
before use), and the parameters the step read, as the literal JSON values of that run.
Nothing else from the artifact store runs. A value saved with cloudpickle is announced
before it is loaded: unpickling runs code, with the same trust as the run that made it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.store import RunStore, StepRecord

CODE_RUNNING_MARSHALLERS = frozenset({"cloudpickle", "pickle"})


class InputsUnavailable(LookupError):
    """The step's inputs cannot be loaded; the message says why and what to do."""


@dataclass
class LoadedInputs:
    """What `load_inputs` put into the namespace, and from where."""

    run_id: str
    step: str
    values: dict[str, Any] = field(default_factory=dict)  # name -> value (artifacts)
    parameters: dict[str, Any] = field(default_factory=dict)
    marshallers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the user: what was loaded, from which run and step."""
        names = [f"{n} ({self.marshallers[n]})" for n in self.values]
        names += [f"{n} (parameter)" for n in self.parameters]
        return (f"liminal: loaded the inputs of step '{self.step}' of run {self.run_id}: "
                + (", ".join(names) or "none (the step reads no data or parameters)"))


def load_inputs(notebook: str | os.PathLike[str], step: str, run: str | None = None,
                into: dict[str, Any] | None = None,
                say: Callable[[str], None] = print) -> LoadedInputs:
    """Load the inputs step `step` read in run `run` (default: its latest run that reached
    the step) into the namespace `into` (default: a new dict, returned in `.values`)."""
    from liminal_jupyter.notebook.parse import parse_notebook
    from liminal_jupyter.runs.location import run_store_for

    notebook = Path(notebook).resolve()
    store = run_store_for(notebook)
    if not store.db_path.exists():
        raise InputsUnavailable(f"{notebook.name} has no recorded runs: run it first "
                                f"(liminal-nb run {notebook.name}).")
    ir = _pipeline_of(store, run, notebook) or parse_notebook(notebook)
    ir_step, element = _ir_step(ir, step, notebook)
    try:
        record = _step_record(store, notebook, step, run)
    except InputsUnavailable:
        better = None if element is None else _no_such_element(store, notebook,
                                                                ir_step.name, element, run)
        if better is None:
            raise
        raise better from None
    records = _input_records(store, record, ir_step)
    loaded = LoadedInputs(record.run_id, step)
    for name, saved in records.items():
        if saved.get("marshaller") in CODE_RUNNING_MARSHALLERS:
            say(f"liminal: {name} was saved with {saved['marshaller']}; loading it runs code, "
                "with the same trust as the run that made it.")
        loaded.values[name] = _load(store, saved, name, step)
        loaded.marshallers[name] = str(saved.get("marshaller"))
    loaded.parameters = _parameters(store, record.run_id, ir, ir_step)
    if element is not None:
        _bind_element(loaded, ir_step, element)
    if into is not None:
        from liminal_jupyter.step.render import _rebind

        for name, value in loaded.values.items():
            into[name] = _rebind(value, into)
        into.update(loaded.parameters)
    say(loaded.describe())
    return loaded


def _ir_step(ir: Any, step: str, notebook: Path) -> tuple[Any, int | None]:
    """The IR step `step` names, and the element index when it names one element of a
    fan-out step (`train.1`, as the run store and the panel call it)."""
    from liminal_jupyter.step.foreach import split_element

    try:
        return ir.step(step), None
    except KeyError:
        pass
    base, index = split_element(step)
    try:
        fanned = ir.step(base) if index is not None else None
    except KeyError:
        fanned = None
    if fanned is not None and fanned.foreach:
        return fanned, index
    raise InputsUnavailable(f"{notebook.name} has no step {step!r}; its steps are: "
                            f"{', '.join(s.name for s in ir.steps)}")


def _no_such_element(store: RunStore, notebook: Path, step: str, index: int,
                     run: str | None) -> InputsUnavailable | None:
    """Element `index` of `step` has no record: how many elements the step had in the run
    asked for (default: the latest run that reached them), or None when it never ran."""
    from liminal_jupyter.runs.store import StoreError
    from liminal_jupyter.step.foreach import split_element

    try:
        runs = [store.get_run(run)] if run else store.list_runs(notebook=notebook, limit=200)
    except (LookupError, StoreError):
        return None
    for candidate in runs:
        elements = (split_element(r.step) for r in store.steps(candidate.run_id))
        count = sum(1 for base, i in elements if base == step and i is not None)
        if count:
            return InputsUnavailable(
                f"step '{step}' ran {count} elements in run {candidate.run_id} "
                f"({step}.0 to {step}.{count - 1}): there is no element {index}.")
    return None


def _bind_element(loaded: LoadedInputs, step: Any, index: int) -> None:
    """What the element's kernel did first (step/foreach.py's bind_element): the list the
    step fans out over, loaded whole, becomes its element `index`."""
    name = step.foreach
    holder = loaded.values if name in loaded.values else loaded.parameters
    items = holder.get(name)
    if not isinstance(items, (list, tuple)) or not 0 <= index < len(items):
        count = len(items) if isinstance(items, (list, tuple)) else 0
        raise InputsUnavailable(f"step '{step.name}' has no element {index} in run "
                                f"{loaded.run_id}: {name} has {count} elements.")
    holder[name] = items[index]


def _pipeline_of(store: RunStore, run: str | None, notebook: Path) -> Any:
    """The IR the run itself used (pipeline.json of its folder), when the run recorded it."""
    from liminal_jupyter.pipeline import Pipeline

    if run is None:
        return None
    try:
        data = json.loads((store.run_dir(store.get_run(run).run_id) / "pipeline.json")
                          .read_text(encoding="utf-8"))
        return Pipeline.from_json(data)
    except (OSError, ValueError, KeyError):
        return None


def _step_record(store: RunStore, notebook: Path, step: str, run: str | None) -> StepRecord:
    from liminal_jupyter.runs.store import StoreError

    if run is not None:
        try:
            return store.get_step(run, step)
        except StoreError as exc:
            raise InputsUnavailable(str(exc)) from None
    for candidate in store.list_runs(notebook=notebook, limit=200):
        for record in store.steps(candidate.run_id):
            if record.step == step and record.status not in ("waiting", "skipped"):
                return record
    raise InputsUnavailable(f"no run of {notebook.name} has reached step '{step}' yet: run "
                            "the pipeline, or pass the run (--run RUN).")


def _input_records(store: RunStore, record: StepRecord, step: Any) -> dict[str, dict]:
    """name -> saved-value record the step read: its folder's inputs.json, else the
    outputs its producers recorded in the same run (or the run they were cached from)."""
    found: dict[str, dict] = {}
    try:
        found = json.loads((store.step_dir(record.run_id, record.step) / "inputs.json")
                           .read_text(encoding="utf-8"))
    except (OSError, ValueError):
        found = {}
    missing = []
    in_manifests: dict[str, dict[str, dict]] | None = None
    for inp in step.data_inputs:
        if inp.name in found:
            continue
        try:
            producer = store.get_step(record.run_id, inp.producer)
        except LookupError:
            producer = None
        if producer is not None and inp.name in producer.outputs:
            found[inp.name] = producer.outputs[inp.name]
            continue
        if in_manifests is None:  # engines that keep outputs only in their manifests
            from liminal_jupyter.runs.values import manifest_outputs

            in_manifests = manifest_outputs(store, record.run_id)
        if inp.name in in_manifests.get(inp.producer or "", {}):
            found[inp.name] = in_manifests[inp.producer or ""][inp.name]
        else:
            missing.append(f"{inp.name} (from step {inp.producer})")
    if missing:
        raise InputsUnavailable(
            f"run {record.run_id} has no saved value for {', '.join(missing)}, which step "
            f"'{record.step}' reads: the producing step did not finish in that run.")
    wanted = {i.name for i in step.data_inputs}
    return {n: r for n, r in found.items() if n in wanted or not wanted}


def _load(store: RunStore, saved: dict[str, Any], name: str, step: str) -> Any:
    from liminal_jupyter.step.marshal import MarshalError, load_value

    data = dict(saved)
    if not Path(data["path"]).is_absolute():  # as the store records it: next to the notebook
        data["path"] = str(store.root.parent / data["path"])
    try:
        return load_value(data)
    except MarshalError as exc:
        raise InputsUnavailable(f"input {name!r} of step '{step}' cannot be loaded: {exc}"
                                ) from None
    except OSError as exc:
        raise InputsUnavailable(f"input {name!r} of step '{step}' is not reachable from here "
                                f"({exc}); its artifact is at {data['path']}") from None


def _parameters(store: RunStore, run_id: str, ir: Any, step: Any) -> dict[str, Any]:
    """The parameters the step reads, valued as in the run (its set values, else the
    notebook's defaults): JSON literals, never code."""
    given = store.get_run(run_id).parameters
    defaults = {p.name: p.default for p in ir.parameters}
    return {i.name: given.get(i.name, defaults.get(i.name)) for i in step.inputs
            if i.kind == "parameter" and (i.name in given or i.name in defaults)}
