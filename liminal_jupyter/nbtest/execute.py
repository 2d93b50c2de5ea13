"""Run one test case, in a child process: `python -m liminal_jupyter.nbtest.execute CASE_DIR`.

The parent writes `case.json` into CASE_DIR and reads `result.json` back. A child process
per case is what lets a timeout stop a case whatever it is doing: the parent sends SIGINT,
the case stops its kernels and still records what ran (a pipeline run records itself as
cancelled), and SIGKILL follows if it does not.

Straight runs go through papermill in two of its own parts, because its `execute_notebook`
fails a notebook on any error output, even in a cell tagged `raises-exception` that
nbclient ran past as allowed: papermill parameterizes (`prepare_only=True`), papermill's
engine executes (cells tagged `skip-ci` are skipped through nbclient's
`skip_cells_with_tag`), and the errors are then checked here, honouring the tag.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from liminal_jupyter.atomic import write_json
from liminal_jupyter.nbtest.results import (
    FAILED,
    PASSED,
    RESULT_FILE,
    TIMEOUT,
    CaseResult,
    Failure,
)
from liminal_jupyter.startup import skip_slow_optional_imports

CASE_FILE = "case.json"
INPUT_NOTEBOOK = "input.ipynb"
EXECUTED_NOTEBOOK = "executed.ipynb"
SKIP_CI = "skip-ci"
RAISES = "raises-exception"
START_TIMEOUT = 120


def main(argv: list[str]) -> int:
    skip_slow_optional_imports()
    # The timeout is a SIGINT from the runner, so it must raise KeyboardInterrupt here even
    # when this process was born with SIGINT ignored: a Jupyter kernel ignores it (ipykernel
    # does, so `!liminal-nb test` in a notebook passes that on), as does a background job
    # of a non-interactive shell. Ignored, the case ran on to the grace period, was killed
    # and reported without the cell it was running.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    case_dir = Path(argv[0])
    spec = json.loads((case_dir / CASE_FILE).read_text(encoding="utf-8"))
    started = time.monotonic()
    result = CaseResult(spec["case_id"], spec["display"], spec["set_name"], spec["parameters"],
                        spec["mode"], PASSED, output_dir=str(case_dir))
    try:
        if spec["mode"] == "pipeline":
            run_as_pipeline(spec, case_dir, result)
        else:
            run_straight(spec, case_dir, result)
    except KeyboardInterrupt:  # the parent's timeout
        result.status = TIMEOUT
    except Exception as exc:  # no kernel of that name, an unreadable notebook...
        result.status = FAILED
        result.failure = result.failure or Failure(
            f"could not run: {type(exc).__name__}: {exc}", type(exc).__name__, str(exc))
    result.duration = time.monotonic() - started
    write_json(case_dir / RESULT_FILE, result.to_json())
    return 0


# -- straight through papermill ----------------------------------------------------------


def run_straight(spec: dict[str, Any], case_dir: Path, result: CaseResult) -> None:
    import nbformat
    import papermill
    from papermill.engines import papermill_engines

    from liminal_jupyter.step.kernelspec import kernel_for

    kernel, note = kernel_for(spec["kernel"])
    if note:
        print(f"warning: {note}", flush=True)  # the case's log
    spec = {**spec, "kernel": kernel}
    notebook = Path(spec["notebook"])
    prepared = prepare_notebook(nbformat.read(notebook, as_version=4))
    source, executed = case_dir / INPUT_NOTEBOOK, case_dir / EXECUTED_NOTEBOOK
    nbformat.write(prepared, source)
    nb = papermill.execute_notebook(
        _unformatted(source), _unformatted(executed), parameters=spec["parameters"],
        prepare_only=True, kernel_name=spec["kernel"], progress_bar=False)
    nb.metadata.papermill["input_path"] = str(notebook)
    result.executed_notebook = str(executed)
    manager = _start_kernel(spec["kernel"], notebook.parent)
    crashed: Exception | None = None
    try:
        papermill_engines.execute_notebook_with_engine(
            None, nb, input_path=str(notebook), output_path=str(executed),
            kernel_name=spec["kernel"], progress_bar=False, log_output=False,
            start_timeout=START_TIMEOUT, stdout_file=sys.stdout, stderr_file=sys.stdout,
            km=manager, skip_cells_with_tag=SKIP_CI)
    except KeyboardInterrupt:
        result.failure = _running_cell(executed)
        raise
    except Exception as exc:  # the kernel died or could not start: no cell output says so
        crashed = exc
    finally:
        _stop_kernel(manager)
    result.failure = _first_error(executed, crashed)
    if result.failure is not None:
        result.status = FAILED


def prepare_notebook(nb: Any) -> Any:
    """The copy that runs: each cell remembers its place in the user's notebook, and a
    Kale-style notebook gets papermill's `parameters` tag on its last parameters cell, so
    the values are injected after the defaults as papermill does for its own tag."""
    for index, cell in enumerate(nb.cells):
        cell.metadata.setdefault("liminal", {})["source_cell"] = {
            "index": index, "id": cell.get("id")}
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    kale = [c for c in nb.cells if "pipeline-parameters" in c.metadata.get("tags", [])]
    if not tagged and kale:
        kale[-1].metadata["tags"] = [*kale[-1].metadata.get("tags", []), "parameters"]
    return nb


def _start_kernel(kernel_name: str, cwd: Path) -> Any:
    """A kernel of our own (not papermill's), so a timeout can kill it from here."""
    from jupyter_client.manager import AsyncKernelManager

    runtime = Path(tempfile.mkdtemp(prefix="liminal-test-"))
    manager = AsyncKernelManager(kernel_name=kernel_name, transport="ipc",
                                 ip=str(runtime / f"kernel-{secrets.token_hex(6)}"))
    asyncio.run(manager.start_kernel(cwd=str(cwd)))
    return manager


def _stop_kernel(manager: Any) -> None:
    from liminal_jupyter.engines.local.kernels import WarmKernel

    kernel = WarmKernel(manager, prelude_ran=False)
    kernel.kill()
    kernel.shutdown()


def _first_error(executed: Path, crashed: Exception | None) -> Failure | None:
    """The first error no `raises-exception` tag allows, or why the run stopped."""
    from liminal_jupyter.step.execute import _clean_exit, _stderr_tail

    cells = _cells(executed)
    for cell in cells:
        if cell.get("cell_type") != "code" or RAISES in cell["metadata"].get("tags", []):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        for output in errors:
            if not _clean_exit(output):
                return _failure_at(cell, output.get("ename", ""), output.get("evalue", ""),
                                   output.get("traceback", []))
        # papermill marks the cell of a `sys.exit(0)` as an exception too, and ends the
        # notebook there as a success: so do we.
        if not errors and cell["metadata"].get("papermill", {}).get("exception") is True:
            return _failure_at(cell, "CellExecutionError",
                               _stderr_tail(cell) or "the cell failed without output", [])
    if crashed is not None:
        failure = _running_cell(executed) or Failure("")
        failure.ename, failure.evalue = type(crashed).__name__, str(crashed).split("\n")[0]
        failure.message = _message(failure, "the notebook stopped")
        return failure
    return None


def _running_cell(executed: Path) -> Failure | None:
    """The cell that was running when the case was stopped: the last one papermill
    started (it marks an interrupted cell completed, but no later cell has started)."""
    started = [c for c in _cells(executed)
               if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return None
    return _failure_at(started[-1], "", "", [])


def _failure_at(cell: dict[str, Any], ename: str, evalue: str, traceback: list[str]) -> Failure:
    from liminal_jupyter.step.execute import _line, _strip_ansi

    source = cell["metadata"].get("liminal", {}).get("source_cell", {})
    traceback = _strip_ansi(traceback)
    failure = Failure("", ename, evalue, traceback, source.get("index"), source.get("id"),
                      _line(traceback, cell.get("execution_count")) if traceback else None)
    failure.message = _message(failure, "failed")
    return failure


def _message(failure: Failure, what: str) -> str:
    error = f"{failure.ename}: {failure.evalue}" if failure.evalue else failure.ename
    where = f" at {failure.where()}" if failure.where() else ""
    return f"{what}{where}" + (f": {error}" if error else "")


def _cells(path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return []


def _unformatted(path: Path) -> str:
    """papermill str.format()s paths with the parameters; braces in a path must survive."""
    return str(path).replace("{", "{{").replace("}", "}}")


# -- as a pipeline, through the local runner ---------------------------------------------


def run_as_pipeline(spec: dict[str, Any], case_dir: Path, result: CaseResult) -> None:
    """Step by step, as `liminal-nb run` would, with the run's records kept in CASE_DIR.

    `skip-ci` cells become comments before the notebook is cut into steps, so the
    pipeline is what CI is meant to run; the user's notebook is not touched.
    """
    from liminal_jupyter.engines.local.runner import LocalRun, RunOptions
    from liminal_jupyter.notebook.parse import build_pipeline
    from liminal_jupyter.notebook.pipefile import is_pipeline_file, parse_pipeline_file
    from liminal_jupyter.notebook.reader import read_notebook
    from liminal_jupyter.runs.progress import LineReporter

    notebook = Path(spec["notebook"])
    if is_pipeline_file(notebook):  # several notebooks (skip-ci is not applied to them)
        pipeline = parse_pipeline_file(notebook, spec["display"])
    else:
        raw = read_notebook(notebook, spec["display"])
        cells = tuple(replace(c, source=f"# {SKIP_CI}: not run by liminal-nb test")
                      if SKIP_CI in c.tags else c for c in raw.cells)
        pipeline = build_pipeline(replace(raw, cells=cells))
    if not pipeline.valid:
        errors = [d.render() for d in pipeline.errors]
        reasons = [e.removeprefix("error: ") for e in errors]  # the failure says "error:"
        first = pipeline.errors[0].location if pipeline.errors else None
        result.status = FAILED
        result.failure = Failure("the notebook is not a valid pipeline: " + "; ".join(reasons),
                                 "InvalidPipeline", reasons[0] if reasons else "", errors,
                                 first.cell_index if first else None,
                                 first.cell_id if first else None, first.line if first else None)
        return
    options = RunOptions(parameters=spec["parameters"], jobs=spec["jobs"], use_cache=False,
                         tracking=spec["tracking"], store_dir=case_dir,
                         fresh_kernels=spec.get("fresh_kernels", False),
                         # No page per step while cases run: `--html` writes one per case
                         # afterwards (the run report renders the steps' pages).
                         html=False)
    run = LocalRun(notebook, pipeline, options, LineReporter(sys.stdout))
    try:  # SIGINT (the timeout) is Ctrl-C to the runner: it kills its kernels, then re-raises
        outcome = run.execute()
    except KeyboardInterrupt:
        _record_step_failure(result, run.store.steps(run.run_id),
                             ("running", "interrupted", "failed"))
        raise
    if outcome.status != "succeeded":
        result.status = FAILED
        _record_step_failure(result, list(outcome.steps.values()), ("failed",))


def _record_step_failure(result: CaseResult, records: list[Any], wanted: tuple[str, ...]) -> None:
    """The failed step (or, after a timeout, the one that was running), as a Failure."""
    from liminal_jupyter.step.execute import StepError

    record = next((r for r in records if r.status in wanted), None)
    if record is None:
        return
    error = record.error or {}
    if "ename" in error:
        step_error = StepError.from_dict(error)
        failure = Failure(step_error.render(), step_error.ename, step_error.evalue,
                          step_error.traceback, step_error.cell_index, step_error.cell_id,
                          step_error.line, record.step)
    else:
        message = error.get("message") or f"step '{record.step}' was {record.status}"
        failure = Failure(message, step=record.step)
    result.failure = failure
    result.executed_notebook = record.executed_notebook


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
