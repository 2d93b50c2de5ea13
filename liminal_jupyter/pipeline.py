"""The pipeline IR: the one structure every backend, the server and the panel read.

Plain dataclasses with no backend imports. A notebook is parsed into a Pipeline once
(`liminal_jupyter.notebook.parse`); nothing downstream reaches back into the notebook.
`to_json()` is the documented, versioned schema (docs/ir.md, schema/pipeline.schema.json);
`Pipeline.from_json()` reads it back, so a step running in a pod can use the same IR.
"""

from __future__ import annotations

import graphlib
import posixpath
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from liminal_jupyter.diagnostics import Diagnostic, Diagnostics, Location

SCHEMA_VERSION = 3
# Versions from_json reads: a version-2 document is a one-notebook pipeline (no step names
# a notebook, so every step runs the one prelude).
READABLE_VERSIONS = (2, 3)

PARAMETER_TYPES = ("int", "float", "str", "bool", "list", "dict", "any")


@dataclass
class CellRef:
    """A notebook cell, by its index (0-based) and id, with its source as written."""

    index: int
    id: str | None
    source: str


@dataclass
class Parameter:
    name: str
    type: str  # one of PARAMETER_TYPES
    default: Any
    help: str = ""
    nullable: bool = False
    choices: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    cell_index: int | None = None
    cell_id: str | None = None
    line: int | None = None


@dataclass
class StepInput:
    """A name the step reads from outside itself.

    kind: 'data' (produced by step `producer`, passed as an artifact), 'parameter' (a
    pipeline parameter, injected by papermill), 'import' (an import statement of an
    earlier step, re-run in this step: `statement`) or 'file' (`name` is a path relative
    to the notebook's folder that step `producer` writes: a file edge).
    """

    name: str
    kind: str
    producer: str | None = None
    statement: str | None = None


@dataclass
class Metric:
    name: str
    expression: str
    cell_index: int | None = None
    cell_id: str | None = None
    line: int | None = None


@dataclass
class Model:
    variable: str
    registered_name: str | None = None


@dataclass
class Secret:
    name: str
    key: str
    env: str


@dataclass
class StepOptions:
    image: str | None = None
    cpu: str | None = None
    memory: str | None = None
    gpu: int | None = None
    gpu_resource: str = "nvidia.com/gpu"
    retries: int = 0
    timeout: int | None = None  # seconds
    cache: bool = True
    # keep:all / keep:default; None follows the notebook's liminal.keep (notebook/keep.py)
    keep: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[Secret] = field(default_factory=list)
    limits: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    # foreach-max:N, the most elements a foreach: step runs; None: liminal.foreach_max, else
    # DEFAULT_FOREACH_MAX (step/foreach.py).
    foreach_max: int | None = None


@dataclass
class Step:
    name: str
    cells: list[CellRef]
    phase: str | None = None
    inputs: list[StepInput] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    options: StepOptions = field(default_factory=StepOptions)
    metrics: list[Metric] = field(default_factory=list)
    models: list[Model] = field(default_factory=list)
    # Values saved for loading after the run that no later step reads (notebook/keep.py).
    keep: list[str] = field(default_factory=list)
    # Workspace files: what the step's code names in the notebook's folder, as POSIX paths
    # relative to it, folders ending in "/", sorted (notebook/workspace.py).
    files: list[str] = field(default_factory=list)
    # Paths relative to the notebook's folder its code writes (literal or folded), sorted:
    # every engine brings what the step wrote there back into the run's folder.
    writes: list[str] = field(default_factory=list)
    # foreach:NAME: the step runs once per element of the list NAME (one of its parameter or
    # data inputs), NAME bound to the element; steps reading its outputs get lists, in
    # element order (step/foreach.py). None: the step runs once.
    foreach: str | None = None
    # The notebook the step comes from, as a POSIX path relative to the pipeline file's
    # folder; "" in a one-notebook pipeline. Its prelude, parameters cells and working
    # directory are that notebook's (Pipeline.part).
    notebook: str = ""

    @property
    def data_inputs(self) -> list[StepInput]:
        return [i for i in self.inputs if i.kind == "data"]

    @property
    def file_inputs(self) -> list[StepInput]:
        return [i for i in self.inputs if i.kind == "file"]

    @property
    def producers(self) -> list[str]:
        """Steps whose outputs this step reads (values or files), in input order."""
        return list(dict.fromkeys(i.producer for i in [*self.data_inputs, *self.file_inputs]
                                  if i.producer))

    @property
    def upstream(self) -> set[str]:
        return set(self.producers) | set(self.after)


@dataclass
class NotebookPart:
    """One notebook of a pipeline file (notebook/pipefile.py): what every step of it runs
    before its own cells. Each step runs its own notebook's prelude and parameters cells,
    never another notebook's, in its own notebook's folder.

    path: relative to the pipeline file's folder (POSIX). parameter_cells: the notebook's
    parameters cells, then a generated one setting the pipeline file's parameters.
    """

    path: str
    parameter_cells: list[CellRef] = field(default_factory=list)
    prelude: list[CellRef] = field(default_factory=list)
    prelude_reads: list[str] = field(default_factory=list)


@dataclass
class Edge:
    """source -> target; kind 'data' carries `variables` (and maybe `files`), 'file' only
    `files` (paths the source writes and the target reads), 'order' only orders (after:)."""

    source: str
    target: str
    kind: str
    variables: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


@dataclass
class Pipeline:
    name: str
    notebook: str
    steps: list[Step]
    description: str = ""
    kernel: str = "python3"
    parameters: list[Parameter] = field(default_factory=list)
    # The parameters cells as written: a step runs them as they are (a computed default
    # runs as written), and papermill injects the values set from outside after them.
    parameter_cells: list[CellRef] = field(default_factory=list)
    prelude: list[CellRef] = field(default_factory=list)
    # Names the prelude's code reads from outside itself as it runs (builtins left out;
    # function bodies run later, in steps), sorted: a warm kernel may run the prelude
    # ahead of the parameters only when none of them is a parameter.
    prelude_reads: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # A pipeline file's notebooks, in the file's order; empty for one notebook, whose
    # prelude and parameters cells are the fields above.
    notebooks: list[NotebookPart] = field(default_factory=list)

    # -- queries ------------------------------------------------------------------------
    def part(self, step: Step | str) -> NotebookPart:
        """What `step` runs before its cells: its notebook's prelude and parameters cells.

        The one accessor every reader of the prelude goes through (rendering, warm kernels,
        cache keys, workspace errors, describe), so a step of a pipeline file never runs
        another notebook's prelude."""
        notebook = (self.step(step) if isinstance(step, str) else step).notebook
        for part in self.notebooks:
            if part.path == notebook:
                return part
        return NotebookPart("", self.parameter_cells, self.prelude, self.prelude_reads)

    def folder_of(self, step: Step | str) -> str:
        """The step's working directory relative to the pipeline's folder ("" for the
        folder itself): its notebook's folder."""
        notebook = (self.step(step) if isinstance(step, str) else step).notebook
        return posixpath.dirname(notebook)

    def notebook_of(self, step: Step | str) -> str:
        """The path of the step's notebook as the user gave it (for messages)."""
        notebook = (self.step(step) if isinstance(step, str) else step).notebook
        if not notebook:
            return self.notebook
        return posixpath.join(posixpath.dirname(self.notebook.replace("\\", "/")), notebook)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def edges(self) -> list[Edge]:
        """One edge per (source, target), data if any variable flows, in notebook order."""
        edges: dict[tuple[str, str], Edge] = {}
        for step in self.steps:
            for inp in step.data_inputs:
                if inp.producer:
                    edge = edges.setdefault(
                        (inp.producer, step.name), Edge(inp.producer, step.name, "data")
                    )
                    edge.variables.append(inp.name)
            for inp in step.file_inputs:
                if inp.producer:
                    edge = edges.setdefault(
                        (inp.producer, step.name), Edge(inp.producer, step.name, "file")
                    )
                    edge.files.append(inp.name)
            for before in step.after:
                edges.setdefault((before, step.name), Edge(before, step.name, "order"))
        return list(edges.values())

    def order(self) -> list[str]:
        """Steps in an order that respects every edge (notebook order among equals)."""
        names = [s.name for s in self.steps]
        sorter = graphlib.TopologicalSorter({s.name: s.upstream & set(names) for s in self.steps})
        position = {name: i for i, name in enumerate(names)}
        ordered: list[str] = []
        sorter.prepare()
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            ordered.extend(ready)
            sorter.done(*ready)
        return ordered

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> list[Diagnostic]:
        """Graph-level checks that hold however the pipeline was built; adds and returns them."""
        found = Diagnostics()
        names = [s.name for s in self.steps]
        if not self.steps:
            found.error(
                "no-steps",
                "the pipeline has no steps: every code cell is imports, functions, parameters, "
                "metrics or skipped. Tag the cells that do the work with step:NAME.",
                Location(self.notebook),
            )
        seen: set[str] = set()
        fanned = {s.name: s.foreach for s in self.steps if s.foreach}
        for step in self.steps:
            where = self._where(step)
            if step.name in seen and not self._reported("duplicate-step", step.name):
                found.error(
                    "duplicate-step", f"two steps are named '{step.name}'.", where, step.name
                )
            seen.add(step.name)
            for before in step.after:
                if before not in names:
                    found.error(
                        "unknown-step",
                        f"after:{before} names no step; steps are {', '.join(names)}.",
                        where,
                        step.name,
                    )
                elif before == step.name:
                    found.error("cycle", "a step cannot run after itself.", where, step.name)
            for inp in step.file_inputs:
                if inp.producer in fanned:  # every element would write its own copy
                    found.error(
                        "foreach-file",
                        f"step '{step.name}' reads {inp.name}, a file that step "
                        f"'{inp.producer}' writes once per element of {fanned[inp.producer]}: "
                        "the elements' copies would overwrite each other. Keep it in a "
                        "variable instead (readers get a list in element order), or write "
                        "the file in a step after the fan-out.", where, step.name)
        cycle = self._cycle()
        if cycle:
            found.error(
                "cycle",
                "the steps depend on each other in a cycle: "
                + " -> ".join(cycle)
                + ". Remove an after: tag, or move the code that produces a variable before "
                "the code that reads it.",
                self._where(self.step(cycle[0])),
                cycle[0],
            )
        self.diagnostics.extend(found.items)
        return found.items

    def _reported(self, code: str, step: str) -> bool:
        return any(d.code == code and d.step == step for d in self.diagnostics)

    def _cycle(self) -> list[str] | None:
        names = {s.name for s in self.steps}
        graph = {s.name: (s.upstream & names) - {s.name} for s in self.steps}
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            return list(reversed(exc.args[1]))
        return None

    def _where(self, step: Step) -> Location:
        cell = step.cells[0] if step.cells else None
        return Location(
            self.notebook_of(step), cell.index if cell else None, cell.id if cell else None
        )

    # -- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        valid = self.valid
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "description": self.description,
            "notebook": self.notebook,
            "kernel": self.kernel,
            "settings": self.settings,
            "parameters": [asdict(p) for p in self.parameters],
            "parameter_cells": [asdict(c) for c in self.parameter_cells],
            "prelude": [asdict(c) for c in self.prelude],
            "prelude_reads": list(self.prelude_reads),
            "notebooks": [asdict(n) for n in self.notebooks],
            "steps": [asdict(s) for s in self.steps],
            "edges": [asdict(e) for e in self.edges],
            "order": self.order() if valid else [],
            "valid": valid,
            "errors": [d.to_json() for d in self.errors],
            "warnings": [d.to_json() for d in self.warnings],
        }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pipeline:
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(f"pipeline JSON schema_version {version!r}; expected {SCHEMA_VERSION}")
        steps = [_step_from_json(s) for s in data["steps"]]
        diagnostics = [
            _diagnostic_from_json(d) for d in [*data.get("errors", []), *data.get("warnings", [])]
        ]
        return cls(
            name=data["name"],
            notebook=data["notebook"],
            steps=steps,
            description=data.get("description", ""),
            kernel=data.get("kernel", "python3"),
            parameters=[Parameter(**_known(Parameter, p)) for p in data.get("parameters", [])],
            parameter_cells=[CellRef(**c) for c in data.get("parameter_cells", [])],
            prelude=[CellRef(**c) for c in data.get("prelude", [])],
            prelude_reads=list(data.get("prelude_reads", [])),
            settings=data.get("settings", {}),
            diagnostics=diagnostics,
            notebooks=[_part_from_json(n) for n in data.get("notebooks", [])],
        )


def _part_from_json(data: dict[str, Any]) -> NotebookPart:
    return NotebookPart(
        path=data["path"],
        parameter_cells=[CellRef(**c) for c in data.get("parameter_cells", [])],
        prelude=[CellRef(**c) for c in data.get("prelude", [])],
        prelude_reads=list(data.get("prelude_reads", [])),
    )


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _step_from_json(data: dict[str, Any]) -> Step:
    data = _known(Step, data)
    options = _known(StepOptions, data.get("options", {}))
    options["secrets"] = [Secret(**s) for s in options.get("secrets", [])]
    return Step(
        name=data["name"],
        cells=[CellRef(**c) for c in data.get("cells", [])],
        phase=data.get("phase"),
        inputs=[StepInput(**_known(StepInput, i)) for i in data.get("inputs", [])],
        outputs=list(data.get("outputs", [])),
        after=list(data.get("after", [])),
        options=StepOptions(**options),
        metrics=[Metric(**_known(Metric, m)) for m in data.get("metrics", [])],
        models=[Model(**_known(Model, m)) for m in data.get("models", [])],
        keep=list(data.get("keep", [])),
        files=list(data.get("files", [])),
        writes=list(data.get("writes", [])),
        foreach=data.get("foreach"),
        notebook=data.get("notebook", ""),
    )


def _diagnostic_from_json(data: dict[str, Any]) -> Diagnostic:
    location = Location(
        data["notebook"], data.get("cell_index"), data.get("cell_id"), data.get("line")
    )
    return Diagnostic(data["severity"], data["code"], data["message"], location, data.get("step"))
