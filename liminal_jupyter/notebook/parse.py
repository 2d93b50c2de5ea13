"""Notebook -> Pipeline: sections, parameters, data flow, metrics, models, options.

Walks the steps in notebook order keeping, for every name, who provides it now: a
parameter, the prelude, an import of an earlier step, the earlier step that last bound or
mutated it, or the step that deleted it. Each read of a step is resolved against that map,
which is exactly "the last earlier step, in notebook order, that assigns it or may mutate it".
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path

from liminal_jupyter.diagnostics import Diagnostic, Diagnostics, NotebookError
from liminal_jupyter.notebook.dataflow import BUILTIN_NAMES, BlockAnalyzer, BlockFacts, Read
from liminal_jupyter.notebook.keep import kept_names
from liminal_jupyter.notebook.parameters import parse_parameters
from liminal_jupyter.notebook.reader import Cell, RawNotebook, read_notebook
from liminal_jupyter.notebook.scopes import ScopeFacts
from liminal_jupyter.notebook.sections import Sections, StepDraft, slug, split_sections
from liminal_jupyter.notebook.settings import read_settings
from liminal_jupyter.notebook.source import CellCode, CellSyntaxError, cell_to_ast
from liminal_jupyter.notebook.tags import PHASES, Tag, TagError, parse_tag
from liminal_jupyter.notebook.workspace import (
    CellFiles,
    WorkspaceFinder,
    covering,
    imported_roots,
    setting_files,
    written_by_cell_magic,
)
from liminal_jupyter.pipeline import (
    CellRef,
    Metric,
    Model,
    Parameter,
    Pipeline,
    Secret,
    Step,
    StepInput,
    StepOptions,
)
from liminal_jupyter.step.workspace import excluded


@dataclass(frozen=True)
class Provider:
    kind: str  # parameter | prelude | import | step | deleted
    step: str | None = None
    statement: str | None = None


def parse_notebook(path: str | Path, display_path: str | None = None) -> Pipeline:
    """Read a notebook, or a pipeline file (liminal.yml: several notebooks, one pipeline),
    and build its pipeline; raise NotebookError if it is neither."""
    from liminal_jupyter.notebook.pipefile import is_pipeline_file, parse_pipeline_file

    if is_pipeline_file(path):
        return parse_pipeline_file(path, display_path)
    return build_pipeline(read_notebook(path, display_path))


def build_pipeline(nb: RawNotebook) -> Pipeline:
    return _Builder(nb).build()


class _Builder:
    def __init__(self, nb: RawNotebook, inherited: dict[str, Provider] | None = None):
        """inherited: who provides which name before this notebook's first cell (a pipeline
        file's earlier notebooks and its parameters: notebook/pipefile.py)."""
        self.nb = nb
        self.diags = Diagnostics()
        self.code: dict[int, CellCode | None] = {}
        self.providers: dict[str, Provider] = dict(inherited or {})
        self.functions: dict[str, ScopeFacts] = {}
        # (last cell index, map); the inherited map holds before the first cell
        self.snapshots: list[tuple[int, dict[str, Provider]]] = [(-1, dict(self.providers))]
        self.star_import: str | None = None
        self.undefined: list[tuple[Step, Read, Cell]] = []
        self.produced_by: dict[str, list[str]] = {}
        self.defined: dict[str, set[str]] = {}  # step -> values it defines (no functions)
        # step -> literal paths its cells name (relative to the notebook's folder): what a
        # pipeline file matches against other notebooks' writes (file edges across them).
        self.mentions: dict[str, set[str]] = {}
        self.prelude_reads: list[str] = []  # what the prelude reads from outside itself
        self.foreach_cells: dict[str, Cell] = {}  # step -> the cell of its foreach: tag

    # -- the whole build ----------------------------------------------------------------
    def build(self, validate: bool = True) -> Pipeline:
        """validate: the graph checks (off for one notebook of a pipeline file, whose
        after: tags may name another notebook's steps: the whole pipeline is checked)."""
        settings = read_settings(self.nb, self.diags)
        sections = split_sections(self.nb, self.diags)
        if not any(c.cell_type == "code" and c.source.strip() for c in self.nb.cells):
            # A Kale composition notebook is only empty notebook: cells; say why first.
            refused = [d for d in self.diags.items if d.code == "unsupported-tag"]
            raise NotebookError([*refused, Diagnostic(
                "error", "no-code", "the notebook has no code cells, so there is nothing to "
                "run.", self.nb.location())])
        parameters = self._parameters(sections)
        prelude = self._prelude(sections)
        defaults = _default_tags(settings.get("steps_defaults", []), self.nb, self.diags)
        steps = [self._step(draft, defaults) for draft in sections.steps]
        self._report_undefined()
        self._metrics(sections, steps)
        self._models(sections, steps)
        self._foreach(steps, parameters)
        self._outputs(steps)
        self._keeps(steps, settings)
        self._workspace(sections, steps, settings)
        self._stray_tags(sections)
        pipeline = Pipeline(
            name=settings.get("name") or _pipeline_name(self.nb.path),
            notebook=self.nb.path,
            steps=steps,
            description=settings.get("description", ""),
            kernel=self.nb.kernel_name,
            parameters=parameters,
            parameter_cells=[self._ref(c) for c in sections.parameters],
            prelude=prelude,
            prelude_reads=self.prelude_reads,
            settings=settings,
            diagnostics=self.diags.items,
        )
        if validate:
            pipeline.validate()
        return pipeline

    # -- cells --------------------------------------------------------------------------
    def _ref(self, cell: Cell) -> CellRef:
        return CellRef(cell.index, cell.id, cell.source)

    def _parse(self, cell: Cell) -> CellCode | None:
        if cell.index not in self.code:
            try:
                self.code[cell.index] = cell_to_ast(cell.source)
            except CellSyntaxError as exc:
                self.code[cell.index] = None
                self.diags.error("syntax-error", exc.message, self.nb.location(cell, exc.line))
        return self.code[cell.index]

    # -- parameters and prelude ---------------------------------------------------------
    def _parameters(self, sections: Sections) -> list[Parameter]:
        found: dict[str, Parameter] = {}
        for cell in sections.parameters:
            code = self._parse(cell)
            if code is None:
                continue
            for param in parse_parameters(self._ref(cell), code.tree, self.nb.location(cell),
                                          self.diags):
                found.pop(param.name, None)  # a later cell (papermill's injected one) wins
                found[param.name] = param
        for name in found:
            self.providers[name] = Provider("parameter")
        return list(found.values())

    def _prelude(self, sections: Sections) -> list[CellRef]:
        analyzer = BlockAnalyzer()
        cells = [cell for cell, _ in sections.prelude]
        for cell in cells:
            code = self._parse(cell)
            if code is not None:
                analyzer.add_cell(code.tree, code.expansion_reads)
        facts = analyzer.finish()
        for position, line, module in facts.star_imports:
            self._star_warning(cells[position], line, module)
        for read in facts.reads:
            if read.hard and read.name not in self.providers and read.name not in BUILTIN_NAMES:
                if not self.star_import:
                    self.diags.error(
                        "undefined-name",
                        f"name '{read.name}' is used in the prelude but nothing defines it.",
                        self.nb.location(cells[read.cell], read.line),
                    )
        for name in analyzer.assigned_anywhere | set(facts.imports):
            self.providers[name] = Provider("prelude")
        self.functions.update(facts.functions)
        self.prelude_modules = set(facts.imports)
        self.prelude_reads = sorted({read.name for read in facts.reads} - BUILTIN_NAMES)
        return [self._ref(c) for c in cells]

    def _star_warning(self, cell: Cell, line: int, module: str) -> None:
        # `%run script.py` (module "%run ...") defines names as `from m import *` does.
        run_magic = module.startswith("%run ")
        self.star_import = module if run_magic else f"from {module} import *"
        instead = "from a module instead" if run_magic else "instead"
        self.diags.warning(
            "star-import",
            f"'{self.star_import}' hides which names it defines, so names it may provide "
            f"cannot be checked or traced; import the names you use {instead}.",
            self.nb.location(cell, line),
        )

    # -- steps --------------------------------------------------------------------------
    def _step(self, draft: StepDraft, defaults: list[tuple[Tag, Cell]]) -> Step:
        modules = {n for n, p in self.providers.items() if p.kind == "import"}
        analyzer = BlockAnalyzer(self.functions, modules | self.prelude_modules)
        for cell in draft.cells:
            code = self._parse(cell)
            if code is not None:
                analyzer.add_cell(code.tree, code.expansion_reads)
        facts = analyzer.finish()
        step = Step(name=draft.name, cells=[self._ref(c) for c in draft.cells])
        for position, line, module in facts.star_imports:
            self._star_warning(draft.cells[position], line, module)
        step.inputs = self._resolve(step, draft, facts)
        self._apply_tags(step, defaults + draft.tags)
        if step.phase is None:
            step.phase = _implicit_phase(step.name)
        self._record(step, analyzer, facts)
        self.snapshots.append((draft.cells[-1].index, dict(self.providers)))
        return step

    def _resolve(self, step: Step, draft: StepDraft, facts: BlockFacts) -> list[StepInput]:
        inputs: dict[str, StepInput] = {}
        reported: set[str] = set()
        for read in facts.reads:
            if read.name in inputs or read.name in reported:
                continue
            provider = self.providers.get(read.name)
            if provider is None or provider.kind == "deleted":
                if read.hard and read.name not in BUILTIN_NAMES:
                    self.undefined.append((step, read, draft.cells[read.cell]))
                    reported.add(read.name)
                continue
            if provider.kind == "step":
                inputs[read.name] = StepInput(read.name, "data", provider.step)
            elif provider.kind == "parameter":
                inputs[read.name] = StepInput(read.name, "parameter")
            elif provider.kind == "import":
                inputs[read.name] = StepInput(read.name, "import", provider.step,
                                              provider.statement)
        return list(inputs.values())

    def _record(self, step: Step, analyzer: BlockAnalyzer, facts: BlockFacts) -> None:
        for name in facts.deleted:
            self.providers[name] = Provider("deleted", step.name)
        for name, statement in facts.imports.items():
            self.providers[name] = Provider("import", step.name, statement)
        self.defined[step.name] = facts.produced - set(facts.functions)
        for name in facts.produced:
            self.providers[name] = Provider("step", step.name)
            self.produced_by.setdefault(name, []).append(step.name)
        for name in facts.produced | facts.deleted:
            self.functions.pop(name, None)
        self.functions.update(facts.functions)

    def _report_undefined(self) -> None:
        known = sorted(set(self.providers) | set(self.produced_by))
        for step, read, cell in self.undefined:
            where = self.nb.location(cell, read.line)
            provider = self._provider_before(read.name, cell.index)
            if provider and provider.kind == "deleted":
                message = (
                    f"name '{read.name}' is used here, but step '{provider.step}' deletes it "
                    "(del) before this step runs."
                )
            else:
                message = (
                    f"name '{read.name}' is used here but no earlier step, parameter, import or "
                    "function defines it."
                )
                later = [s for s in self.produced_by.get(read.name, []) if s != step.name]
                if later:
                    message += (
                        f" Step '{later[0]}' defines it later in the notebook: move that code "
                        "above this step."
                    )
                elif read.name in known:  # bound, but only after this use
                    message += " It is assigned only after this line: move that code above it."
                else:
                    close = difflib.get_close_matches(read.name, known, n=1)
                    if close:
                        message += f" Did you mean '{close[0]}'?"
            if self.star_import:
                self.diags.warning(
                    "undefined-name",
                    message + f" It may come from '{self.star_import}'.",
                    where, step.name,
                )
            else:
                self.diags.error("undefined-name", message, where, step.name)

    def _provider_before(self, name: str, cell_index: int) -> Provider | None:
        """Who provided `name` to code at `cell_index` (the map after the last step above)."""
        current: dict[str, Provider] = {}
        for last_cell, snapshot in self.snapshots:
            if last_cell >= cell_index:
                break
            current = snapshot
        return current.get(name)

    # -- tags: options, after, phase ----------------------------------------------------
    def _apply_tags(self, step: Step, tags: list[tuple[Tag, Cell]]) -> None:
        options = step.options
        for tag, _cell in tags:
            if tag.kind == "after":
                step.after.extend(n for n in tag.value if n not in step.after)
            elif tag.kind == "phase":
                step.phase = tag.value
            elif tag.kind == "foreach":
                if step.foreach not in (None, tag.value):
                    self.diags.error(
                        "conflicting-tags",
                        f"step '{step.name}' has foreach:{step.foreach} and {tag.raw}; a step "
                        "runs over one list.", self.nb.location(_cell), step.name)
                    continue
                step.foreach = tag.value
                self.foreach_cells[step.name] = _cell
            elif tag.kind == "option":
                _apply_option(options, tag)

    # -- metrics and models -------------------------------------------------------------
    def _metrics(self, sections: Sections, steps: list[Step]) -> None:
        by_name = {s.name: s for s in steps}
        for cell, _ in sections.metrics:
            code = self._parse(cell)
            if code is None:
                continue
            for key, expr, line in _metric_expressions(code.tree):
                self._metric(cell, key, expr, line, by_name)

    def _metric(
        self, cell: Cell, key: str, expr: ast.expr, line: int, by_name: dict[str, Step]
    ) -> None:
        names = sorted({n.id for n in ast.walk(expr) if isinstance(n, ast.Name)} - BUILTIN_NAMES)
        source = ast.unparse(expr)
        providers = {n: self._provider_before(n, cell.index) for n in names}
        steps = [p.step for p in providers.values()
                 if p and p.kind == "step" and p.step in by_name]
        params = [n for n, p in providers.items() if p and p.kind == "parameter"]
        where = self.nb.location(cell, line)
        order = [s.name for s in by_name.values()]
        if steps:
            owner = by_name[max(steps, key=order.index)]
        elif params and by_name:
            owner = _parameter_metric_owner(params, cell.index, list(by_name.values()))
        else:
            self.diags.error(
                "metric-undefined",
                f"metric '{source}' uses no variable that a step or parameter defines; a "
                "metric is a value computed by a step, such as its accuracy, or a parameter.",
                where,
            )
            return
        for name, provider in providers.items():
            if provider is None or provider.kind in ("deleted",):
                self.diags.error("metric-undefined",
                                 f"metric '{source}' uses '{name}', which no step defines.", where)
            elif all(i.name != name for i in owner.inputs):
                # The owner evaluates the metric, so it reads what the metric names: a value
                # of an earlier step, or a parameter (on KFP a step only gets the parameters
                # it reads, and an override must reach the metric).
                if provider.kind == "step" and provider.step != owner.name:
                    owner.inputs.append(StepInput(name, "data", provider.step))
                elif provider.kind == "parameter":
                    owner.inputs.append(StepInput(name, "parameter"))
        owner.metrics.append(Metric(key, source, cell.index, cell.id, line))

    def _models(self, sections: Sections, steps: list[Step]) -> None:
        by_name = {s.name: s for s in steps}
        drafts = {d.name: d for d in sections.steps}
        for step in steps:
            for tag, cell in drafts[step.name].tags:
                if tag.kind != "model":
                    continue
                variable, registered = tag.value
                last_cell = drafts[step.name].cells[-1].index
                provider = self._provider_before(variable, last_cell + 1)
                if provider is None or provider.kind != "step" or provider.step not in by_name:
                    self.diags.error(
                        "model-undefined",
                        f"model:{variable} names a variable that no step defines by the end of "
                        f"step '{step.name}'.",
                        self.nb.location(cell), step.name,
                    )
                    continue
                owner = by_name[provider.step]
                if all(m.variable != variable for m in owner.models):
                    owner.models.append(Model(variable, registered))

    def _foreach(self, steps: list[Step], parameters: list[Parameter]) -> None:
        """foreach:NAME needs NAME to be a list the step reads: a parameter (typed list or
        any) or a value an earlier step produces. What it is at run time is checked then."""
        types = {p.name: p.type for p in parameters}
        for step in steps:
            if step.foreach is None:
                continue
            where = self.nb.location(self.foreach_cells[step.name])
            name = step.foreach
            read = next((i for i in step.inputs if i.name == name), None)
            if read is None or read.kind not in ("parameter", "data"):
                self.diags.error(
                    "foreach-unknown",
                    f"foreach:{name}: step '{step.name}' does not read '{name}' from a "
                    "parameter or an earlier step; foreach names a list parameter or a list "
                    "an earlier step produces, which the step's code uses as one element.",
                    where, step.name)
            elif read.kind == "parameter" and types.get(name) not in ("list", "any"):
                self.diags.error(
                    "foreach-not-list",
                    f"foreach:{name}: parameter '{name}' is {types.get(name)}, not a list; "
                    f"give it a list default such as {name} = [1, 2, 3].", where, step.name)
            if step.models:
                self.diags.error(
                    "foreach-model",
                    f"model:{step.models[0].variable} is made by step '{step.name}', which "
                    f"runs once per element of {name}: pick one model in a later step (it "
                    "receives the list) and tag it there.", where, step.name)

    def _outputs(self, steps: list[Step]) -> None:
        consumed: dict[str, set[str]] = {s.name: set() for s in steps}
        for step in steps:
            for inp in step.data_inputs:
                if inp.producer in consumed:
                    consumed[inp.producer].add(inp.name)
            for model in step.models:
                consumed[step.name].add(model.variable)
        for step in steps:
            step.outputs = sorted(consumed[step.name])

    def _keeps(self, steps: list[Step], settings: dict) -> None:
        upstream = {name for s in steps for name in s.upstream}
        for step in steps:
            reads = {n for m in step.metrics for n in _names_in(m.expression)}
            keep_all = (step.options.keep or settings.get("keep")) == "all"
            step.keep = kept_names(self.defined.get(step.name, set()), step.outputs, reads,
                                   leaf=step.name not in upstream, keep_all=keep_all)

    def _workspace(self, sections: Sections, steps: list[Step], settings: dict) -> None:
        """Each step's workspace files: what its cells, the prelude, the parameters cells and
        the imports it re-runs name, plus liminal.files, less liminal.exclude."""
        if self.nb.folder is None:
            return
        folder = Path(self.nb.folder)
        finder = WorkspaceFinder(self.nb, folder, self.diags)
        owner = {c.index: d.name for d in sections.steps for c in d.cells}
        cells = [*sections.parameters, *(c for c, _ in sections.prelude),
                 *(c for d in sections.steps for c in d.cells)]
        found: dict[int, CellFiles] = {}
        for cell in sorted(cells, key=lambda c: c.index):  # bindings flow down the notebook
            code = self._parse(cell)
            if code is not None:
                found[cell.index] = finder.cell(cell, code.tree, owner.get(cell.index))
                found[cell.index].writes |= written_by_cell_magic(cell.source)
        shared = setting_files(self.nb, folder, settings.get("files", []), self.diags)
        for cell in [*sections.parameters, *(c for c, _ in sections.prelude)]:
            if cell.index in found:  # every step runs these cells first
                shared |= found[cell.index].files
                shared |= finder.module_files(found[cell.index].modules)
        exclude = settings.get("exclude", [])
        for step in steps:
            files = set(shared)
            modules = {m for i in step.inputs if i.kind == "import" and i.statement
                       for m in _statement_modules(i.statement)}
            for cell in step.cells:
                if cell.index in found:
                    files |= found[cell.index].files
                    modules |= found[cell.index].modules
            files |= finder.module_files(modules)
            step.files = covering(f for f in files if not excluded(f, exclude))
        self._file_edges(steps, found)

    def _file_edges(self, steps: list[Step], found: dict[int, CellFiles]) -> None:
        """A path a step reads that an earlier step writes (`df.to_csv("report.csv")`, then
        `pd.read_csv("report.csv")`) comes from that step: a 'file' input (a file edge),
        not a workspace file, even when a local run left the file beside the notebook."""
        writer: dict[str, str] = {}
        for step in steps:  # notebook order: the last earlier writer provides the file
            cells = [found[c.index] for c in step.cells if c.index in found]
            mentions = set().union(*(c.mentions for c in cells)) if cells else set()
            # `import greet` reads greet.py, which an earlier step may write (%%writefile)
            modules = set().union(*(c.modules for c in cells)) if cells else set()
            modules |= {m for i in step.inputs if i.kind == "import" and i.statement
                        for m in _statement_modules(i.statement)}
            mentions |= {f"{m}.py" for m in modules} & set(writer)
            self.mentions[step.name] = mentions
            handed = sorted(m for m in mentions if writer.get(m, step.name) != step.name)
            step.inputs += [StepInput(name=m, kind="file", producer=writer[m]) for m in handed]
            step.files = [f for f in step.files if f.rstrip("/") not in handed]
            for cell in cells:
                writer.update(dict.fromkeys(cell.writes, step.name))
            step.writes = sorted(set().union(*(c.writes for c in cells))) if cells else []

    def _stray_tags(self, sections: Sections) -> None:
        for tag, cell in sections.stray_tags:
            self.diags.warning(
                "tag-outside-step",
                f"tag '{tag.raw}' applies to steps, but this cell is not part of a step; it is "
                "ignored.",
                self.nb.location(cell),
            )


def _parameter_metric_owner(params: list[str], cell_index: int, steps: list[Step]) -> Step:
    """The step that logs a metric naming only parameters (Kale's `print(d1)` in a
    pipeline-metrics cell): like Kale, the last step that reads one of them; else the last
    step before the metrics cell; else the last step. The value is the parameter's value
    for the run, overrides included."""
    before = [s for s in steps if s.cells and s.cells[0].index < cell_index] or steps
    readers = [s for s in before
               if any(i.kind == "parameter" and i.name in params for i in s.inputs)]
    return (readers or before)[-1]


def _statement_modules(statement: str) -> set[str]:
    try:
        tree = ast.parse(statement)
    except SyntaxError:
        return set()
    return {m for node in ast.walk(tree) for m in imported_roots(node)}


def _names_in(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _apply_option(options: StepOptions, tag: Tag) -> None:
    name, value = tag.value
    if name == "env":
        options.env[value[0]] = value[1]
    elif name == "secret":
        options.secrets.append(Secret(*value))
    elif name in ("limit", "annotation", "label"):
        getattr(options, name + "s")[value[0]] = value[1]
    elif name == "gpu":
        options.gpu = value
        if tag.alias and tag.alias.endswith("/gpu"):
            options.gpu_resource = tag.alias
    else:
        setattr(options, name, value)


def _default_tags(raw_tags: list, nb: RawNotebook, diags: Diagnostics) -> list[tuple[Tag, Cell]]:
    """Kale's `steps_defaults` (and ours): option tags applied to every step first."""
    found = []
    anchor = Cell(-1, None, "code", "", ())
    for raw in raw_tags:
        try:
            tag = parse_tag(str(raw))
        except TagError as exc:
            diags.error("bad-setting", f"steps_defaults: {exc}", nb.location())
            continue
        if tag is None or tag.kind != "option":
            diags.warning("bad-setting", f"steps_defaults: '{raw}' is not a step option.",
                          nb.location())
            continue
        found.append((tag, anchor))
    return found


def _metric_expressions(tree: ast.Module) -> list[tuple[str, ast.expr, int]]:
    """(key, expression, line) for `x`, `print(x, y)` (Kale's style) and `key = expr` lines."""
    found = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr):
            value = stmt.value
            is_print = isinstance(value, ast.Call) and getattr(value.func, "id", "") == "print"
            for expr in value.args if is_print else [value]:
                found.append((_metric_key(expr), expr, stmt.lineno))
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            found.append((stmt.targets[0].id, stmt.value, stmt.lineno))
    return found


def _metric_key(expr: ast.expr) -> str:
    if isinstance(expr, ast.Name):
        return expr.id
    return slug(ast.unparse(expr)) or "metric"


def _implicit_phase(name: str) -> str | None:
    for phase in PHASES:
        if name == phase or name.startswith((phase + "_", phase + "-")):
            return phase
    return None


def _pipeline_name(path: str) -> str:
    stem = path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".ipynb")
    return slug(stem).replace("_", "-") or "pipeline"

