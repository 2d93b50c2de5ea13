"""`liminal-nb run --backend airflow`: compile the notebook to a DAG and run it for real with
`airflow dags test`, in a throwaway AIRFLOW_HOME, recorded in the notebook's run store.

Airflow runs the DAG in one process with SQLite and no scheduler, so a run here exercises
the very file `liminal-nb compile --target airflow` writes. Its database is migrated once
per Airflow version (seconds) and cached under $XDG_CACHE_HOME/liminal-jupyter (default
~/.cache); each run copies it into a fresh AIRFLOW_HOME, removed afterwards. No AIRFLOW_*
variable of the caller reaches the child, so a configured production Airflow is never
touched.

Run folder (`RunStore.run_dir(run_id)`): dags/<dag id>.py (the compiled DAG),
pipeline.json, parameters.json, airflow.log (everything `dags test` printed) and
artifacts/<cleaned Airflow run id>/<step>/ (see runtime.py). While the DAG runs, each
task's `airflow-task.json` is followed: it becomes the step's record (state, times,
outputs, metrics, error, executed notebook, log) and a progress event.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from liminal_jupyter.engines.airflow.runtime import TASK_STATE
from liminal_jupyter.engines.base import EngineRefused
from liminal_jupyter.engines.recorded import (
    ChildCommand,
    RecordedRun,
    StepEvents,
    log_tail,
    run_recorded,
)
from liminal_jupyter.runs.progress import Reporter
from liminal_jupyter.startup import lean_module_command
from liminal_jupyter.step.workdir import FILES

BACKEND = "airflow"
LOG_NAME = "airflow.log"
INSTALL_HINT = ("--backend airflow needs Apache Airflow 3 in this environment: "
                "pip install 'liminal-jupyter[airflow]'")


class AirflowBackendError(EngineRefused):
    """The run cannot start (Airflow missing, invalid notebook, bad parameter, no database);
    nothing was recorded. The message says what to do."""


def airflow_installed() -> bool:
    """Airflow 3 (its task SDK) is installed, found without importing it.

    `find_spec("airflow.sdk")` would import `airflow` itself to look inside it: seconds of
    configuration and logging set-up (and a grammar compiled by one of its dependencies)
    paid by every process that only asks.
    """
    try:
        spec = importlib.util.find_spec("airflow")
    except (ImportError, ValueError):
        return False
    folders = (spec.submodule_search_locations or []) if spec else []
    return any(os.path.isdir(os.path.join(folder, "sdk")) for folder in folders)


def airflow_version() -> str:
    for dist in ("apache-airflow-core", "apache-airflow"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


# --------------------------------------------------------------------------------------
# A throwaway AIRFLOW_HOME


def airflow_env(home: Path, dags: Path) -> dict[str, str]:
    """This process's environment for an Airflow child confined to `home`: the caller's
    AIRFLOW_* settings are dropped, examples off, warnings quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "PYTHONWARNINGS": "ignore",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def migrated_database() -> Path:
    """A migrated, empty airflow.db for this Airflow version: made once, then reused.

    Migrating takes seconds; a copy takes milliseconds. Concurrent first runs each migrate
    in their own folder and the last rename wins, so the cached file is always whole.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    db = cache / "liminal-jupyter" / f"airflow-{airflow_version()}" / "airflow.db"
    if db.is_file():
        return db
    with tempfile.TemporaryDirectory(prefix="liminal-airflow-migrate-") as tmp:
        home = Path(tmp)
        (home / "dags").mkdir()
        done = subprocess.run(lean_module_command("airflow", "db", "migrate"),
                              env=airflow_env(home, home / "dags"), capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0 or not (home / "airflow.db").is_file():
            tail = (done.stdout + done.stderr).strip()[-3000:]
            raise AirflowBackendError(f"`airflow db migrate` failed (exit {done.returncode}): "
                                      f"{tail}")
        db.parent.mkdir(parents=True, exist_ok=True)
        staged = db.with_name(f".airflow.db.{os.getpid()}")
        shutil.copyfile(home / "airflow.db", staged)
        os.replace(staged, db)
    return db


def new_home(dags: Path) -> tuple[Path, dict[str, str]]:
    """A fresh AIRFLOW_HOME holding a copy of the migrated database, and its environment."""
    db = migrated_database()
    home = Path(tempfile.mkdtemp(prefix="liminal-airflow-home-"))
    shutil.copyfile(db, home / "airflow.db")
    return home, airflow_env(home, dags)


# --------------------------------------------------------------------------------------
# The run


def run_airflow(
    notebook: str | os.PathLike[str],
    parameters: dict[str, Any],
    reporter: Reporter | None = None,
    *,
    run_id: str | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """Run `notebook`'s pipeline with `airflow dags test`; return (run_id, status, metrics).

    parameters: typed values (as `params.resolve` returns them) that become the DAG run's
    conf. run_id: an id the caller reserved (`store.new_run_id()`), else a new one.
    Raises AirflowBackendError, recording nothing, when the run cannot start.
    status: 'succeeded' or 'failed'; metrics: every step's metrics merged in run order.
    KeyboardInterrupt stops Airflow, records the run 'cancelled' and is re-raised.
    """
    return run_recorded(AirflowLocalRun, AirflowBackendError, notebook, parameters, reporter,
                        run_id=run_id)


class AirflowLocalRun(RecordedRun):
    """The compiled DAG, run by `airflow dags test` in a throwaway AIRFLOW_HOME."""

    backend = BACKEND

    def check(self, pipeline: Any, parameters: dict[str, Any]) -> None:
        if not airflow_installed():
            raise AirflowBackendError(INSTALL_HINT)
        migrated_database()  # before the run is recorded: a failure here records nothing

    def prepare(self, pipeline: Any, run_dir: Path) -> None:
        from liminal_jupyter.engines.airflow.compile import (
            CompileError,
            DagOptions,
            dag_id_for,
            write_dag,
        )

        try:
            self.dag = write_dag(pipeline, run_dir / "dags" / f"{dag_id_for(pipeline.name)}.py",
                                 DagOptions(artifacts=str(run_dir / "artifacts")))
        except CompileError as exc:
            shutil.rmtree(run_dir / "dags", ignore_errors=True)
            raise AirflowBackendError(str(exc)) from exc

    def command(self, pipeline: Any, run_dir: Path) -> ChildCommand:
        self.home, env = new_home(self.dag.path.parent)
        conf = dict(self.request.parameters)
        return ChildCommand(
            lean_module_command("airflow", "dags", "test", self.dag.dag_id,
                                "--conf", json.dumps(conf), "--dagfile-path", str(self.dag.path)),
            cwd=self.dag.path.parent, log=run_dir / LOG_NAME, env=env)

    def cleanup(self) -> None:
        home = getattr(self, "home", None)
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)

    def follower(self, events: StepEvents, pipeline: Any, run_dir: Path) -> _TaskFollower:
        return _TaskFollower(events, run_dir / "artifacts", pipeline.order(),
                             {s.name: s.outputs for s in pipeline.steps if s.foreach})

    def outcome(self, code: int, follower: _TaskFollower, pipeline: Any,
                run_dir: Path) -> tuple[str, str | None, dict[str, dict[str, Any]]]:
        order, state = pipeline.order(), follower.events.status
        log_path = run_dir / LOG_NAME
        if code == 0 and all(state.get(s) == "succeeded" for s in order):
            return "succeeded", None, follower.metrics
        errors = [follower.errors[s] for s in order
                  if state.get(s) == "failed" and s in follower.errors]
        message = "; ".join(errors) or (
            f"`airflow dags test` exited with code {code} before every step ran: "
            f"{log_tail(log_path)}")
        return "failed", message + f" (Airflow log: {log_path})", follower.metrics


class _TaskFollower:
    """Reads each task's airflow-task.json; every change becomes a step event."""

    def __init__(self, events: StepEvents, artifacts: Path, steps: list[str],
                 fanned: dict[str, list[str]] | None = None):
        self.events, self.artifacts, self.steps = events, artifacts, steps
        self.fanned = fanned or {}  # fan-out step -> its outputs (elements: STEP.I)
        self.element_states: dict[str, dict[str, Any]] = {}
        self.seen: dict[str, tuple[str, Any]] = {}
        self.metrics: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}
        self.remote_id: str | None = None  # the Airflow run id

    def poll(self) -> None:
        if not self.artifacts.is_dir():
            return
        changed = []
        from liminal_jupyter.step.foreach import split_element

        for path in self.artifacts.glob(f"*/*/{TASK_STATE}"):
            step = path.parent.name
            base, index = split_element(step)
            if step not in self.steps and not (index is not None and base in self.fanned):
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # written atomically; a failed read is a vanished file
            key = (data.get("state"), data.get("try_number"))
            if self.seen.get(step) != key:
                self.seen[step] = key
                changed.append((data.get("ended") or data.get("started") or 0, step, data,
                                path.parent))
        for _, step, data, folder in sorted(changed, key=lambda item: (item[0], item[1])):
            self.remote_id = data.get("run_id") or self.remote_id
            if step not in self.steps:  # an element of a fan-out step: a record of its own
                self.events.store.add_steps(self.events.run_id, [step])
                self.element_states[step] = data
            elif step in self.fanned and data.get("state") == "running" \
                    and self.events.status.get(step) == "running":
                continue  # the elements task: the step runs until its elements end
            self._record(step, data)
            # `liminal-nb show` reads the step's inputs from the run's own step folder.
            if (folder / "inputs.json").is_file():
                events = self.events
                shutil.copyfile(folder / "inputs.json",
                                events.store.step_dir(events.run_id, step) / "inputs.json")
            # The files the step wrote, where `show` lists them for every engine.
            if data.get("files") and (folder / FILES).is_dir():
                shutil.copytree(folder / FILES,
                                self.events.store.step_dir(self.events.run_id, step) / FILES,
                                dirs_exist_ok=True)

        self._gather()

    def _gather(self) -> None:
        """A fan-out step ends when its elements have: failed with the first failed
        element's error, else succeeded with their outputs as lists, in element order."""
        from liminal_jupyter.engines.airflow.runtime import ELEMENTS
        from liminal_jupyter.step.foreach import element_name

        for step, outputs in self.fanned.items():
            if self.events.status.get(step) != "running":
                continue
            counts = list(self.artifacts.glob(f"*/{step}/{ELEMENTS}"))
            if not counts:
                continue
            try:
                count = int(json.loads(counts[0].read_text(encoding="utf-8"))["count"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            states = [self.element_states.get(element_name(step, i)) for i in range(count)]
            if any(s is None or s.get("state") not in ("succeeded", "failed") for s in states):
                continue
            failed = [s for s in states if s.get("state") == "failed"]
            self._record(step, {
                "state": "failed" if failed else "succeeded",
                "started": self.events.started.get(step), "ended": max(
                    (s.get("ended") or 0 for s in states), default=None),
                "outputs": {} if failed else {
                    name: [s["outputs"][name] for s in states] for name in outputs},
                "metrics": {}, "error": failed[0].get("error") if failed else None,
                "executed_notebook": (failed or states or [{}])[0].get("executed_notebook"),
            })

    def _record(self, step: str, data: dict[str, Any]) -> None:
        from liminal_jupyter.step.execute import render_error

        state = data.get("state")
        if state == "running":
            self.events.running(step, data.get("started"), ended=None,
                                attempt=max(0, (data.get("try_number") or 1) - 1))
            return
        if state not in ("succeeded", "failed"):
            return
        self.metrics[step] = data.get("metrics") or {}
        error = data.get("error")
        detail = render_error(error, step) if error else None
        if state == "failed" and detail:
            self.errors[step] = detail
        self.events.finished(
            step, state, detail, started=data.get("started"), ended=data.get("ended"),
            outputs=data.get("outputs") or {}, metrics=self.metrics[step], error=error,
            executed_notebook=data.get("executed_notebook"), log_path=data.get("log_path"),
        )
