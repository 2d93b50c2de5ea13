"""The recorded run: what every engine that orchestrates a child process does, in one order.

kfp-local (`kfp.local` in a child) and airflow-local (`airflow dags test` in a child) differ
only in what they compile and how they read their child's progress. Everything around
that is here, once: parse and check the notebook and its parameters, reserve the run id,
compile into the run folder (a refusal records nothing and leaves a launcher's files in
place), record the run, run the child in its own process group while a follower turns
its state into step events, stop the whole group on Ctrl-C or SIGTERM and record the run
'cancelled', then record how it ended and merge the steps' metrics.

An engine subclasses `RecordedRun` and fills in `prepare` (compile), `command`, `follower`
and `outcome`. Followers only turn an engine's state into step events, through
`StepEvents`, which writes the run store and tells the reporter.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.engines.base import EngineRefused, RunRequest, RunResult

if TYPE_CHECKING:
    from liminal_jupyter.pipeline import Pipeline
    from liminal_jupyter.runs.progress import Reporter
    from liminal_jupyter.runs.store import RunStore


@dataclass
class ChildCommand:
    """The child an engine runs: its command line, where it runs, its environment, and
    the file its output goes to."""

    argv: list[str]
    cwd: Path
    log: Path
    env: dict[str, str] | None = None


class StepEvents:
    """A step's state change, recorded in the run store and reported, once per change."""

    def __init__(self, store: RunStore, run_id: str, reporter: Reporter):
        self.store, self.run_id, self.reporter = store, run_id, reporter
        self.started: dict[str, float] = {}
        self.status: dict[str, str] = {}

    def running(self, step: str | None, started: float | None = None, **fields: Any) -> None:
        if step is None or (self.status.get(step) == "running" and not fields):
            return
        self.started[step] = started or self.started.get(step) or time.time()
        self.status[step] = "running"
        self.store.update_step(self.run_id, step, status="running",
                               started=self.started[step], **fields)
        self.reporter.step_state(step, "running")

    def finished(self, step: str | None, status: str, detail: str | None = None,
                 started: float | None = None, ended: float | None = None,
                 **fields: Any) -> None:
        if step is None:
            return
        ended = ended or time.time()
        started = started or self.started.setdefault(step, ended)
        self.status[step] = status
        self.store.update_step(self.run_id, step, status=status, started=started,
                               ended=ended, **fields)
        self.reporter.step_state(step, status, ended - started, detail)


class RecordedRun:
    """A template: `run()` is the same for every child-process engine; subclasses fill in
    the engine's parts. One instance is one run."""

    backend = ""  # the engine's name, recorded as the run's backend
    poll_interval = 0.5

    def __init__(self, request: RunRequest, reporter: Reporter):
        self.request = request
        self.reporter = reporter
        self.notebook = Path(request.notebook)

    # -- the engine's parts ---------------------------------------------------------------
    def check(self, pipeline: Pipeline, parameters: dict[str, Any]) -> None:
        """Refuse (EngineRefused) what this engine cannot run, before anything is written."""

    def prepare(self, pipeline: Pipeline, run_dir: Path) -> None:
        """Compile into the run folder; EngineRefused when the pipeline cannot be compiled."""
        raise NotImplementedError

    def command(self, pipeline: Pipeline, run_dir: Path) -> ChildCommand:
        raise NotImplementedError

    def follower(self, events: StepEvents, pipeline: Pipeline, run_dir: Path) -> Any:
        """An object whose poll() reads the child's progress and reports it to `events`."""
        raise NotImplementedError

    def outcome(self, code: int, follower: Any, pipeline: Pipeline,
                run_dir: Path) -> tuple[str, str | None, dict[str, dict[str, Any]]]:
        """(status, message, metrics by step) once the child has exited with `code`."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Called once the child is gone, whatever happened."""

    # -- the template ---------------------------------------------------------------------
    def run(self) -> RunResult:
        from liminal_jupyter.runs.location import run_store_for
        from liminal_jupyter.runs.store import write_json

        pipeline = self.request.pipeline or load_pipeline(self.notebook)
        parameters = dict(self.request.parameters)
        check_parameters(pipeline, parameters)
        self.check(pipeline, parameters)

        store = run_store_for(self.notebook)
        run_id = self.request.run_id or store.new_run_id()
        run_dir = store.run_dir(run_id)
        reserved = run_dir.exists()  # a launcher's folder holds its files: keep it
        run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.prepare(pipeline, run_dir)
        except EngineRefused:
            if not reserved:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        order = pipeline.order()
        store.create_run(run_id, self.notebook, pipeline.name, self.backend, parameters, order)
        write_json(run_dir / "pipeline.json", pipeline.to_json())
        write_json(run_dir / "parameters.json", parameters)
        self.reporter.run_started(run_id, pipeline.name, order)

        events = StepEvents(store, run_id, self.reporter)
        follower = self.follower(events, pipeline, run_dir)
        child = self.command(pipeline, run_dir)
        for name in order:  # until a step has its own log, the child's is the place to look
            store.update_step(run_id, name, log_path=str(child.log))
        try:
            code = run_child(child, follower.poll, self.poll_interval)
        except KeyboardInterrupt:
            store.finish_run(run_id, "cancelled", "cancelled by the user")
            self.reporter.run_finished("cancelled", {"run_id": run_id, "message": "cancelled"})
            raise
        finally:
            self.cleanup()
        follower.poll()
        status, message, per_step = self.outcome(code, follower, pipeline, run_dir)
        remote_id = getattr(follower, "remote_id", None)
        if remote_id:
            store.update_run(run_id, remote_id=remote_id)
        store.finish_run(run_id, status, message)
        self.reporter.run_finished(status, {"run_id": run_id, "message": message})
        metrics = {k: v for name in order for k, v in per_step.get(name, {}).items()}
        return RunResult(run_id, status, metrics, message)


def run_recorded(run_class: type[RecordedRun], refused: type[EngineRefused],
                 notebook: str | os.PathLike[str], parameters: dict[str, Any],
                 reporter: Reporter | None = None, **request: Any
                 ) -> tuple[str, str, dict[str, Any]]:
    """One run of `run_class` as (run id, status, metrics), for callers of the functions
    that came before the Engine interface (`run_kfp_local`, `run_airflow`); every refusal
    is raised as the engine's own `refused` class."""
    from liminal_jupyter.runs.progress import Reporter

    run_request = RunRequest(Path(notebook), dict(parameters), **request)
    try:
        result = run_class(run_request, reporter or Reporter()).run()
    except EngineRefused as exc:
        if isinstance(exc, refused):
            raise
        raise refused(str(exc)) from exc
    return result.run_id, result.status, result.metrics


def load_pipeline(notebook: Path) -> Pipeline:
    """The notebook's valid pipeline; EngineRefused (nothing recorded) otherwise."""
    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.notebook.parse import parse_notebook

    try:
        pipeline = parse_notebook(notebook)
    except NotebookError as exc:
        raise EngineRefused("; ".join(d.render() for d in exc.diagnostics)) from None
    if not pipeline.valid:
        raise EngineRefused("the pipeline has errors; `liminal-nb inspect` shows them")
    return pipeline


def check_parameters(pipeline: Pipeline, parameters: dict[str, Any]) -> None:
    """Unknown names are refused with the names there are; floats given as ints become
    floats (a value typed by `params.resolve` is otherwise taken as it is)."""
    types = {p.name: p.type for p in pipeline.parameters}
    unknown = sorted(set(parameters) - set(types))
    if unknown:
        raise EngineRefused(f"unknown parameter(s) {', '.join(unknown)}; the notebook's "
                            f"parameters are {', '.join(sorted(types)) or '(none)'}")
    for name, value in parameters.items():
        if types[name] == "float" and isinstance(value, int) and not isinstance(value, bool):
            parameters[name] = float(value)


def run_child(child: ChildCommand, poll: Any, interval: float) -> int:
    """Run the child in its own process group to its end, calling poll() meanwhile; its
    exit code. Interrupted (Ctrl-C, SIGTERM turned into KeyboardInterrupt), the whole group
    is stopped: SIGTERM, then SIGKILL after 10 s, so no step the child started outlives it.
    """
    env = {**(child.env if child.env is not None else os.environ), "PYTHONUNBUFFERED": "1"}
    with open(child.log, "ab") as log:
        process = subprocess.Popen(child.argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=child.cwd, env=env,
                                   start_new_session=True)
        try:
            while process.poll() is None:
                poll()
                time.sleep(interval)
        finally:
            if process.poll() is None:
                stop_group(process)
    return process.returncode


def stop_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except ProcessLookupError:
        process.wait()
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def read_json(path: Path) -> Any:
    """A JSON file written atomically, or None when it is not (yet) there."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def log_tail(path: Path, size: int = 1500) -> str:
    """The last lines of a child's log, on one line, for an error message."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-6:])[-size:]
