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
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from liminal_jupyter.engines.airflow.runtime import TASK_STATE
from liminal_jupyter.runs.progress import Reporter

BACKEND = "airflow"
LOG_NAME = "airflow.log"
INSTALL_HINT = ("--backend airflow needs Apache Airflow 3 in this environment: "
                "pip install 'liminal-jupyter[airflow]'")
_POLL = 0.5


class AirflowBackendError(Exception):
    """The run cannot start (Airflow missing, invalid notebook, bad parameter, no database);
    nothing was recorded. The message says what to do."""


def airflow_installed() -> bool:
    try:
        return importlib.util.find_spec("airflow.sdk") is not None
    except ImportError:
        return False


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
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"],
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


def dag_conf(pipeline: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """`-p` values as DAG-run conf; an unknown name is an error before anything runs."""
    types = {p.name: p.type for p in pipeline.parameters}
    unknown = sorted(set(parameters) - set(types))
    if unknown:
        raise AirflowBackendError(
            f"unknown parameter(s) {', '.join(unknown)}; the notebook's parameters are "
            f"{', '.join(sorted(types)) or '(none)'}")
    conf = {}
    for name, value in parameters.items():
        if types[name] == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        conf[name] = value
    return conf


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
    from liminal_jupyter.engines.airflow.compile import (
        CompileError,
        DagOptions,
        dag_id_for,
        write_dag,
    )
    from liminal_jupyter.notebook.parse import parse_notebook
    from liminal_jupyter.runs.location import liminal_dir
    from liminal_jupyter.runs.store import RunStore, write_json

    if not airflow_installed():
        raise AirflowBackendError(INSTALL_HINT)
    reporter = reporter or Reporter()
    notebook = Path(notebook)
    pipeline = parse_notebook(notebook)
    if not pipeline.valid:
        raise AirflowBackendError("the pipeline has errors; `liminal-nb inspect` shows them")
    conf = dag_conf(pipeline, parameters)
    migrated_database()  # before the run is recorded: a failure here records nothing

    store = RunStore(liminal_dir(notebook))
    reserved = run_id is not None
    run_id = run_id or store.new_run_id()
    run_dir = store.run_dir(run_id)
    try:
        result = write_dag(pipeline, run_dir / "dags" / f"{dag_id_for(pipeline.name)}.py",
                           DagOptions(artifacts=str(run_dir / "artifacts")))
    except CompileError as exc:
        # A reserved folder holds the launcher's files: only what we wrote goes.
        shutil.rmtree(run_dir / "dags" if reserved else run_dir, ignore_errors=True)
        raise AirflowBackendError(str(exc)) from exc
    order = pipeline.order()
    store.create_run(run_id, notebook, pipeline.name, BACKEND, dict(parameters), order)
    write_json(run_dir / "pipeline.json", pipeline.to_json())
    write_json(run_dir / "parameters.json", dict(parameters))
    reporter.run_started(run_id, pipeline.name, order)

    follower = _TaskFollower(store, run_id, reporter, run_dir / "artifacts", order)
    log_path = run_dir / LOG_NAME
    home, env = new_home(result.path.parent)
    try:
        code = _dags_test(result.dag_id, result.path, conf, env, log_path, follower)
    except KeyboardInterrupt:
        store.finish_run(run_id, "cancelled", "cancelled by the user")
        reporter.run_finished("cancelled", {"run_id": run_id, "message": "cancelled"})
        raise
    finally:
        shutil.rmtree(home, ignore_errors=True)
    follower.poll()

    failed = [s for s in order if follower.state.get(s) == "failed"]
    if code == 0 and all(follower.state.get(s) == "succeeded" for s in order):
        status, message = "succeeded", None
    else:
        status = "failed"
        errors = [follower.errors[s] for s in failed if s in follower.errors]
        message = "; ".join(errors) or (
            f"`airflow dags test` exited with code {code} before every step ran: "
            f"{_tail(log_path)}")
        message += f" (Airflow log: {log_path})"
    if follower.airflow_run_id:
        store.update_run(run_id, remote_id=follower.airflow_run_id)
    store.finish_run(run_id, status, message)
    metrics = {k: v for s in order for k, v in follower.metrics.get(s, {}).items()}
    reporter.run_finished(status, {"run_id": run_id, "message": message})
    return run_id, status, metrics


def _dags_test(dag_id: str, dag_file: Path, conf: dict[str, Any], env: dict[str, str],
               log_path: Path, follower: _TaskFollower) -> int:
    """Run `airflow dags test` to its end, following the tasks; its exit code."""
    command = [sys.executable, "-m", "airflow", "dags", "test", dag_id,
               "--conf", json.dumps(conf), "--dagfile-path", str(dag_file)]
    with open(log_path, "wb") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env, cwd=dag_file.parent,
                                 start_new_session=True)
        try:
            while child.poll() is None:
                follower.poll()
                time.sleep(_POLL)
        finally:
            if child.poll() is None:  # interrupted: stop Airflow and the steps it started
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                    child.wait(10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
    return child.returncode


def _tail(path: Path, size: int = 1500) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-6:])[-size:]


class _TaskFollower:
    """Reads each task's airflow-task.json; every change becomes a step record and event."""

    def __init__(self, store: Any, run_id: str, reporter: Reporter, artifacts: Path,
                 steps: list[str]):
        self.store, self.run_id, self.reporter = store, run_id, reporter
        self.artifacts, self.steps = artifacts, steps
        self.state: dict[str, str] = {}
        self.seen: dict[str, tuple[str, Any]] = {}
        self.metrics: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}
        self.airflow_run_id: str | None = None

    def poll(self) -> None:
        if not self.artifacts.is_dir():
            return
        changed = []
        for path in self.artifacts.glob(f"*/*/{TASK_STATE}"):
            step = path.parent.name
            if step not in self.steps:
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
            self.airflow_run_id = data.get("run_id") or self.airflow_run_id
            self._record(step, data)
            # `liminal-nb show` reads the step's inputs from the run's own step folder.
            if (folder / "inputs.json").is_file():
                shutil.copyfile(folder / "inputs.json",
                                self.store.step_dir(self.run_id, step) / "inputs.json")

    def _record(self, step: str, data: dict[str, Any]) -> None:
        from liminal_jupyter.engines.local.runner import _render_error

        state = data.get("state")
        if state == "running":
            self.state[step] = "running"
            self.store.update_step(self.run_id, step, status="running",
                                   started=data.get("started"), ended=None,
                                   attempt=max(0, (data.get("try_number") or 1) - 1))
            self.reporter.step_state(step, "running")
            return
        if state not in ("succeeded", "failed"):
            return
        self.state[step] = state
        self.metrics[step] = data.get("metrics") or {}
        error = data.get("error")
        detail = _render_error(error) if error else None
        if state == "failed" and detail:
            self.errors[step] = detail
        self.store.update_step(
            self.run_id, step, status=state, started=data.get("started"),
            ended=data.get("ended"), outputs=data.get("outputs") or {},
            metrics=self.metrics[step], error=error,
            executed_notebook=data.get("executed_notebook"), log_path=data.get("log_path"),
        )
        duration = None
        if data.get("started") and data.get("ended"):
            duration = data["ended"] - data["started"]
        self.reporter.step_state(step, state, duration, detail)
