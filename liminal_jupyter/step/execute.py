"""The step executor every backend uses: render a step, run it with papermill, report.

A step runs the same way on a laptop and in a Kubeflow pod (`python -m liminal_jupyter.step`
calls `execute_step` too), so a local run predicts a cluster run. The output directory
receives:

- `step.ipynb`, the rendered notebook (`liminal_jupyter.step.render`), written atomically;
- `executed.ipynb`, papermill's output, with every cell's outputs. papermill writes it
  before it raises, so a failed step can always be opened at the failing cell;
- `artifacts/` and `outputs.json`, written by the step's save cell. The manifest is
  removed before a run and written last, so it exists only when the step finished.

Failures are data, as in papermill: `execute_step` returns a `StepResult` whose `StepError`
names the original notebook cell (index and id) and line, found through the
`metadata.liminal.source_cell` the renderer put on each copied cell. It raises only for
bad arguments (ValueError). papermill and nbformat are imported only when a step runs.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import time
import traceback as tb
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from liminal_jupyter.atomic import atomic_write_text
from liminal_jupyter.pipeline import Pipeline
from liminal_jupyter.step.render import MANIFEST, render_step

STEP_NOTEBOOK = "step.ipynb"
EXECUTED_NOTEBOOK = "executed.ipynb"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")
_ARROW = re.compile(r"^-+>\s*(\d+)", re.MULTILINE)

# Where in the step notebook a failure happened, as said in StepError.render().
_STAGE_TEXT = {
    "parameters": "in its parameters cell",
    "injected-parameters": "while setting its parameters (papermill's injected cell)",
    "load": "while loading its inputs (the load cell)",
    "save": "while saving its outputs and metrics (the save cell)",
    "run": "to run (no cell of the step reported the error)",
}


@dataclass
class StepError:
    """Why a step failed, and where: the original notebook cell, not the step notebook's.

    stage: 'step' or 'prelude' (a cell the user wrote: cell_index/cell_id/line are set),
    'parameters', 'injected-parameters', 'load', 'save' (cells we generate) or 'run' (the
    kernel could not start, died, or timed out between cells). cell_index is 0-based.
    """

    step: str
    cell_index: int | None
    cell_id: str | None
    line: int | None
    ename: str
    evalue: str
    traceback: list[str]
    executed_notebook: str
    stage: str = "step"
    notebook: str = ""
    # For an element of a foreach: step, which: {"name", "index", "value"} (step/foreach.py).
    element: dict[str, Any] | None = None

    def render(self) -> str:
        """One paragraph: the step, where it failed, the exception, and where to look."""
        from liminal_jupyter.step.foreach import describe_element

        message = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        message = re.sub(r"\s*\n\s*", " ", message.strip()).rstrip(".")
        which = f" for {describe_element(self.element)}" if self.element else ""
        return (
            f"step '{self.step}' failed{which} {self._where()}: {message}; the executed notebook "
            f"with the error in place is at {self.executed_notebook}"
        )

    def _where(self) -> str:
        if self.stage not in ("step", "prelude") or self.cell_index is None:
            return _STAGE_TEXT.get(self.stage, _STAGE_TEXT["run"])
        cell = f"in notebook cell {self.cell_index + 1}"
        details = [f"id {self.cell_id}" if self.cell_id else "no id"]
        if self.stage == "prelude":
            details.append("an imports/functions cell run before every step")
        where = f"{cell} ({', '.join(details)})"
        if self.line is not None:
            where += f", line {self.line}"
        return where + (f" of {self.notebook}" if self.notebook else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepError:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def render_error(error: dict[str, Any] | None, step: str = "") -> str:
    """One paragraph for a recorded error: a StepError's render(), or the plain message of
    an error that never reached a cell (a kill, a timeout, a kernel that did not start)."""
    if not error:
        return f"step '{step}' failed" if step else "failed"
    if "ename" not in error:
        return error.get("message") or (f"step '{step}' failed" if step else json.dumps(error))
    try:
        return StepError.from_dict(error).render()
    except (TypeError, KeyError):
        return json.dumps(error)


@dataclass
class StepResult:
    """What one run of one step produced. `outputs` maps names to saved-value records,
    ready to be given as `inputs` to the steps that read them."""

    step: str
    status: str  # "succeeded" | "failed"
    outputs: dict[str, dict] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    executed_notebook: str = ""
    duration: float = 0.0
    error: StepError | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error"] = self.error.to_dict() if self.error else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepResult:
        error = data.get("error")
        return cls(
            step=data["step"],
            status=data["status"],
            outputs=dict(data.get("outputs") or {}),
            metrics=dict(data.get("metrics") or {}),
            executed_notebook=data.get("executed_notebook", ""),
            duration=float(data.get("duration", 0.0)),
            error=StepError.from_dict(error) if error else None,
        )


def execute_step(
    pipeline: Pipeline,
    step_name: str,
    parameters: dict[str, Any],
    inputs: dict[str, dict],
    output_dir: str | Path,
    *,
    cwd: str | Path | None = None,
    kernel_name: str | None = None,
    log_output: bool = False,
    timeout: float | None = None,
    kernel_manager: Any = None,
    prelude_ran: bool = False,
    stdout_file: Any = None,
    environment: dict[str, str] | None = None,
    element: int | None = None,
) -> StepResult:
    """Run one step in a fresh kernel and return what it produced, or why it failed.

    parameters: values for pipeline parameters (JSON values), injected by papermill as
    literals. inputs: saved-value records of the step's data inputs (extra ones are
    ignored). cwd: the kernel's working directory, by default the notebook's directory so
    relative paths mean what they mean in the notebook. kernel_name: overrides the
    notebook's kernel. timeout: seconds allowed per cell (papermill's execution_timeout).
    kernel_manager: a started jupyter_client KernelManager to run in instead of a fresh
    kernel (the local runner's warm kernels; its cwd was set when it started), with
    `prelude_ran` when it has run the prelude already. stdout_file: where the cells'
    printed output goes as they run (the step's log). environment: variables the step's
    cells see (its env: tags), set by a first cell: for a kernel the runner did not start
    with them (a pod or a task sets them on its process instead). element: for a step tagged
    foreach:NAME, the element of NAME to run (0-based; step/foreach.py).
    Raises ValueError for bad arguments; a failing step is a result, not an exception.
    """
    parameters = _checked_parameters(pipeline, parameters)
    workdir = _working_directory(pipeline, cwd, step_name)
    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    notebook = render_step(pipeline, step_name, inputs, str(out), prelude_ran=prelude_ran,
                           environment=environment, element=element)
    step_path, executed = out / STEP_NOTEBOOK, out / EXECUTED_NOTEBOOK
    _write_notebook(notebook, step_path)
    # A manifest or executed notebook from an earlier run must not pass for this one's.
    (out / MANIFEST).unlink(missing_ok=True)
    executed.unlink(missing_ok=True)
    if element is not None:
        from liminal_jupyter.step.foreach import ELEMENT_FILE

        (out / ELEMENT_FILE).unlink(missing_ok=True)

    if kernel_manager is None and kernel_name is None:  # a pod, a task: this Python's kernel
        from liminal_jupyter.step.kernelspec import kernel_for

        kernel_name, note = kernel_for(pipeline.kernel)
        if note:
            print(f"warning: {note}", file=sys.stderr)
    started = time.monotonic()
    try:
        _run_papermill(step_path, executed, parameters, workdir, kernel_name, log_output, timeout,
                       kernel_manager, stdout_file)
    except Exception as exc:
        shown = executed if executed.exists() else step_path
        error = _step_error(pipeline, step_name, shown, exc)
        if element is not None:
            error.element = _element(pipeline, step_name, element, out)
        return StepResult(step_name, "failed", executed_notebook=str(shown),
                          duration=time.monotonic() - started, error=error)
    duration = time.monotonic() - started
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        error = _ended_early(pipeline, step_name, executed) or StepError(
            step_name, None, None, None, type(exc).__name__,
            f"the step ran but its manifest {out / MANIFEST} is missing or unreadable ({exc})",
            [], str(executed), "save", pipeline.notebook)
        return StepResult(step_name, "failed", executed_notebook=str(executed),
                          duration=duration, error=error)
    return StepResult(step_name, "succeeded", manifest["outputs"], manifest["metrics"],
                      str(executed), duration)


def _element(pipeline: Pipeline, step_name: str, index: int, out: Path) -> dict[str, Any]:
    """Which element failed: as the load cell recorded it, else its index alone (it failed
    before the element was bound)."""
    from liminal_jupyter.step.foreach import read_element

    return read_element(out) or {"name": pipeline.step(step_name).foreach, "index": index,
                                 "value": "?"}


def _checked_parameters(pipeline: Pipeline, parameters: dict[str, Any]) -> dict[str, Any]:
    """Known names and plain JSON values only.

    papermill writes `name = <literal>`: a name that is not an identifier would be code,
    and its fallback for unknown types is str(value), so values are normalised through
    JSON first (which also turns int/str subclasses into plain ints and strs).
    """
    known = [p.name for p in pipeline.parameters]
    plain: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"parameter name {name!r} is not a Python name")
        if name not in known:
            raise ValueError(
                f"pipeline '{pipeline.name}' has no parameter {name!r}; its parameters are "
                f"{', '.join(known) or 'none'}"
            )
        try:
            plain[name] = json.loads(json.dumps(value))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameter {name!r} must be a JSON value ({exc})") from None
    return plain


def _working_directory(pipeline: Pipeline, cwd: str | Path | None, step_name: str) -> Path:
    """The step's notebook's folder: `cwd` (by default the pipeline's folder) is the
    pipeline's folder, and a step of a pipeline file's notebook in a sub-folder runs in
    that sub-folder of it (made when absent: an unpacked workspace may not hold it)."""
    path = Path(cwd if cwd is not None else Path(pipeline.notebook).parent).resolve()
    if not path.is_dir():
        raise ValueError(
            f"working directory {path} does not exist; pass the directory the notebook's "
            "relative paths refer to (cwd=, or --cwd)"
        )
    try:
        sub = pipeline.folder_of(step_name)
    except KeyError:
        return path  # an unknown step: render_step says so
    if sub:
        path = path / sub
        path.mkdir(parents=True, exist_ok=True)
    return path


def _write_notebook(notebook: Any, path: Path) -> None:
    import nbformat

    atomic_write_text(path, nbformat.writes(notebook))


def _run_papermill(
    step_path: Path,
    executed: Path,
    parameters: dict[str, Any],
    workdir: Path,
    kernel_name: str | None,
    log_output: bool,
    timeout: float | None,
    kernel_manager: Any = None,
    stdout_file: Any = None,
) -> None:
    import papermill

    extra: dict[str, Any] = {}
    if kernel_manager is not None:
        # nbclient runs in a kernel manager's started kernel instead of starting one.
        extra["km"] = kernel_manager
        kernel_name = kernel_name or kernel_manager.kernel_name
    if stdout_file is not None:
        extra.update(stdout_file=stdout_file, stderr_file=stdout_file)
    papermill.execute_notebook(
        _unformatted(step_path),
        _unformatted(executed),
        parameters=parameters,
        cwd=str(workdir),
        kernel_name=kernel_name,
        log_output=log_output,
        progress_bar=False,
        execution_timeout=timeout,
        **extra,
    )


def _unformatted(path: Path) -> str:
    """papermill str.format()s paths with the parameters; braces in a path must survive."""
    return str(path).replace("{", "{{").replace("}", "}}")


# --------------------------------------------------------------------------------------
# From papermill's failure to the user's cell.


def _step_error(pipeline: Pipeline, step: str, executed: Path, exc: Exception) -> StepError:
    cell = _failing_cell(_read_cells(executed))
    ename, evalue, traceback = _exception_parts(exc, cell)
    if not evalue and cell is not None:
        evalue = _stderr_tail(cell)
    return _error_at(pipeline, step, executed, cell, ename, evalue, traceback)


def _ended_early(pipeline: Pipeline, step: str, executed: Path) -> StepError | None:
    """The cell that ended the step with `sys.exit()` or `sys.exit(0)`, as an error.

    papermill counts such an exit a clean end of a notebook and runs no later cell, so the
    step's save cell never ran: its outputs and metrics do not exist. A step must reach
    its end; the error names the cell instead of the missing manifest."""
    cells = [c for c in _read_cells(executed) if c.get("cell_type") == "code"]
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and _clean_exit(output):
                call = f"sys.exit({output.get('evalue') or ''})"
                return _error_at(
                    pipeline, step, executed, cell, "SystemExit",
                    f"{call} ended the step before it saved its outputs and "
                    "metrics; papermill counts it a clean end of a whole notebook, but a "
                    "pipeline step must run to its last cell (put the rest of the step "
                    "under an `if` instead)", _strip_ansi(output.get("traceback", [])))
    return None


def _error_at(pipeline: Pipeline, step: str, executed: Path, cell: dict[str, Any] | None,
              ename: str, evalue: str, traceback: list[str]) -> StepError:
    meta = (cell or {}).get("metadata", {})
    liminal = meta.get("liminal", {})
    stage = liminal.get("role") or (
        "injected-parameters" if "injected-parameters" in meta.get("tags", []) else "run"
    )
    source = liminal.get("source_cell") or next(iter(liminal.get("source_cells", [])), {})
    line = _line(traceback, (cell or {}).get("execution_count")) if cell else None
    return StepError(
        step=step,
        cell_index=source.get("index"),
        cell_id=source.get("id"),
        line=line,
        ename=ename,
        evalue=evalue,
        traceback=traceback,
        executed_notebook=str(executed),
        stage=stage,
        notebook=pipeline.notebook,
    )


def _read_cells(path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []


def _failing_cell(cells: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cell that failed, as papermill decides it (an error output, else its marker),
    else the last cell that started (a timeout or a dead kernel leaves no error output)."""
    code = [c for c in cells if c.get("cell_type") == "code"]
    for cell in code:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and not _clean_exit(output):
                return cell
    for cell in code:
        if cell.get("metadata", {}).get("papermill", {}).get("exception") is True:
            return cell
    started = [c for c in code if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def _stderr_tail(cell: dict[str, Any]) -> str:
    """The last line a failed cell printed on stderr: what IPython says for an error it
    reports without an error output (a line magic that does not exist: 'UsageError: ...')."""
    text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")
    lines = [line.strip() for line in _strip_ansi(text.splitlines()) if line.strip()]
    return lines[-1] if lines else ""


def _clean_exit(output: dict[str, Any]) -> bool:
    return output.get("ename") == "SystemExit" and output.get("evalue") in ("", "0")


def _exception_parts(
    exc: Exception, cell: dict[str, Any] | None
) -> tuple[str, str, list[str]]:
    """(ename, evalue, traceback without colour codes), from the kernel when it reported."""
    from papermill import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return exc.ename, exc.evalue, _strip_ansi(exc.traceback)
    # The kernel could not start, died, or timed out. The exception says what happened (a
    # timed-out cell shows only the KeyboardInterrupt that stopped it); the cell's
    # traceback, if any, says where it was.
    evalue = str(exc)
    if isinstance(exc, TimeoutError):
        evalue = evalue.split("\n", 1)[0]  # the rest previews the cell's source
    for output in (cell or {}).get("outputs", []):
        if output.get("output_type") == "error":
            return type(exc).__name__, evalue, _strip_ansi(output.get("traceback", []))
    lines = tb.format_exception_only(type(exc), exc)
    return type(exc).__name__, evalue, [line.rstrip("\n") for line in lines]


def _strip_ansi(lines: list[str]) -> list[str]:
    return [_ANSI.sub("", line) for line in lines]


def _line(traceback: list[str], execution_count: int | None) -> int | None:
    """The failing line of the cell itself, from IPython's `Cell In[n], line k` frames.

    The first frame of the cell's own execution count is the cell; later frames may be
    functions defined in other cells. Older IPython only marks lines with `---->`.
    """
    text = "\n".join(traceback)
    for match in _CELL_FRAME.finditer(text):
        if execution_count is None or int(match.group(1)) == execution_count:
            return int(match.group(2))
    arrow = _ARROW.search(text)
    return int(arrow.group(1)) if arrow else None
