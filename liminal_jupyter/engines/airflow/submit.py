"""Submit a notebook's pipeline to a running Airflow 3 deployment and follow its DAG runs.

submit: the DAG file (`compile --target airflow`, workspace packed beside the artifacts)
is written atomically into the deployment's dags folder; we wait until the API shows the
DAG at this file's version (its `liminal-version-...` tag), or report the import error
Airflow recorded for the file (its own message, with the file's line); then the DAG is
unpaused and a DAG run triggered whose conf is the typed parameter values. The run is
recorded in the notebook folder's run store (backend 'airflow', `host` the API URL,
`remote_id` "DAG_ID/DAG_RUN_ID", no local runner process) and its run folder gets
`airflow.json` (dag id, run id, dags folder, artifacts location; never credentials).

follow/record_state: task-instance states become the steps' states; a finished task's
record (outputs, metrics, error with its notebook cell, executed notebook) is read from
its `airflow-task.json` in ARTIFACTS/<cleaned run id>/<step>/ (runtime.py) when this
machine can read ARTIFACTS, else its metrics from the task's return value (XCom).
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.engines.airflow.rest import (
    EXIT_INVALID,
    AirflowClient,
    AirflowError,
    NotFound,
)

if TYPE_CHECKING:
    from liminal_jupyter.pipeline import Pipeline
    from liminal_jupyter.runs.store import RunStore

BACKEND = "airflow"
RECORD = "airflow.json"
PARSE_TIMEOUT = 120.0

FINAL_STATES = {"success": "succeeded", "failed": "failed"}
"""DAG-run states that end a run, and the run-store status each is recorded as."""

TASK_STATES = {None: "waiting", "none": "waiting", "scheduled": "waiting",
               "queued": "waiting", "running": "running", "restarting": "running",
               "up_for_retry": "running", "up_for_reschedule": "running",
               "deferred": "running", "success": "succeeded", "failed": "failed",
               "upstream_failed": "skipped", "skipped": "skipped", "removed": "skipped"}
"""Airflow task-instance states -> run-store step statuses."""


@dataclass
class Submitted:
    run_id: str  # the run store's id ('' when it could not be recorded)
    dag_id: str
    dag_run_id: str
    dag_file: Path
    store_root: Path | None
    notes: list[str] = field(default_factory=list)
    store_warning: str | None = None

    @property
    def remote_id(self) -> str:
        return f"{self.dag_id}/{self.dag_run_id}"


def split_remote_id(remote_id: str) -> tuple[str, str]:
    """'DAG_ID/DAG_RUN_ID' -> (dag id, dag run id); a dag id holds no '/'."""
    dag_id, sep, dag_run_id = remote_id.partition("/")
    if not sep or not dag_id or not dag_run_id:
        raise AirflowError(f"{remote_id!r} is not an Airflow run: give DAG_ID/DAG_RUN_ID or "
                           "a run id `liminal-nb runs` lists", EXIT_INVALID)
    return dag_id, dag_run_id


def settings_of(pipeline: Pipeline) -> dict[str, Any]:
    """The notebook's `liminal.airflow` metadata (host, dags_folder, username)."""
    found = pipeline.settings.get("airflow")
    return found if isinstance(found, dict) else {}


# -- submit ------------------------------------------------------------------------------
def submit(
    notebook: str | Path,
    pipeline: Pipeline,
    client: AirflowClient,
    dags_folder: str | Path,
    values: dict[str, Any],
    *,
    run_name: str | None = None,
    artifacts: str | None = None,
    artifacts_connection: str | None = None,
    dag_id: str | None = None,
    parse_timeout: float = PARSE_TIMEOUT,
    on_wait: Callable[[str], None] | None = None,
) -> Submitted:
    """Write the DAG, wait for Airflow to parse it, trigger a run, record it in the store.

    Raises AirflowError (one line) or CompileError; nothing is recorded then.
    """
    from liminal_jupyter.engines.airflow.compile import DagOptions, dag_id_for, write_dag
    from liminal_jupyter.runs.location import run_store_for

    notebook = Path(notebook)
    folder = Path(dags_folder)
    if not folder.is_dir():
        raise AirflowError(f"the dags folder {folder} does not exist: give the folder the "
                           "deployment's dag-processor reads (--dags-folder)", EXIT_INVALID)
    client.token()  # wrong credentials or host fail before anything is written
    store = run_store_for(notebook)
    run_id = store.new_run_id()
    dag_run_id = run_name or f"liminal__{run_id}"
    options = DagOptions(artifacts=artifacts, artifacts_connection=artifacts_connection,
                         dag_id=dag_id)
    name = f"{dag_id or dag_id_for(pipeline.name)}.py"
    try:
        result = write_dag(pipeline, folder / name, options)
        wait_for_dag(client, result.dag_id, result.path, parse_timeout, on_wait)
        client.unpause(result.dag_id)
        client.trigger(result.dag_id, dag_run_id, values,
                       note=f"liminal-nb submit {notebook.name} (run {run_id})")
    except BaseException:
        import shutil

        shutil.rmtree(store.run_dir(run_id), ignore_errors=True)
        raise
    submitted = Submitted(run_id, result.dag_id, dag_run_id, result.path, None,
                          list(result.notes))
    try:
        store.create_run(run_id, notebook, pipeline.name, BACKEND, values, pipeline.order(),
                         runner_pid=None, host=client.host, remote_id=submitted.remote_id,
                         message=f"Airflow DAG {result.dag_id!r}, run {dag_run_id!r}")
        (store.run_dir(run_id) / RECORD).write_text(json.dumps({
            "dag_id": result.dag_id, "dag_run_id": dag_run_id, "dag_file": str(result.path),
            "artifacts": result.artifacts}, indent=2), encoding="utf-8")
        submitted.store_root = store.root
    except Exception as exc:  # the run exists on Airflow whatever happens to our record
        submitted.store_warning = f"could not record the run in the run store: {exc}"
    return submitted


def wait_for_dag(client: AirflowClient, dag_id: str, path: Path, timeout: float,
                 on_wait: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Poll until the API shows `dag_id` parsed from this version of `path`; an import
    error recorded for the file after we wrote it ends the wait with Airflow's message."""
    from liminal_jupyter.engines.airflow.compile import version_tag

    wanted = version_tag(path.read_text(encoding="utf-8"))
    written = path.stat().st_mtime
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            dag = client.dag(dag_id)
        except NotFound:
            dag = None
        if dag is not None:
            tags = {t.get("name") for t in dag.get("tags") or []}
            if wanted is None or wanted in tags:
                return dag
        error = _import_error(client, path, written)
        if error:
            path.unlink(missing_ok=True)  # the dag-processor would report it again and again
            raise AirflowError(f"{error} (the file was removed from the dags folder)")
        if time.monotonic() > deadline:
            raise AirflowError(f"Airflow at {client.host} did not show DAG {dag_id!r} within "
                               f"{timeout:.0f} s of writing {path}: is the dag-processor "
                               "running and reading that folder?")
        if not told and on_wait is not None:
            on_wait(f"waiting for Airflow to parse {path.name}...")
            told = True
        time.sleep(1.0)


def _import_error(client: AirflowClient, path: Path, written: float) -> str | None:
    for error in client.import_errors():
        where = error.get("filename") or ""
        if not (where == str(path) or where.endswith("/" + path.name) or where == path.name):
            continue
        when = _epoch(error.get("timestamp"))
        if when is not None and when + 1.0 < written:
            continue  # an error of an earlier version of the file
        trace = str(error.get("stack_trace") or "").strip()
        try:
            source = path.read_text(encoding="utf-8")
        except OSError:
            source = ""
        return (f"Airflow could not import the DAG file {path}: "
                f"{_import_message(trace, path, source)}")
    return None


# Errors Airflow raises while validating a parsed DAG (not while running the file) carry
# no line of it: the DAG argument they are about, found by words of the message.
_ARGUMENT_WORDS = (("timetable", "schedule"), ("cron", "schedule"), ("schedule", "schedule"),
                   ("start_date", "start_date"), ("param", "params"))


def _import_message(trace: str, path: Path, source: str = "") -> str:
    """Airflow's message (the exception line) and the DAG file's line it names; when the
    trace names none (a bad schedule fails in Airflow's validation of the parsed DAG), the
    line of the DAG argument the message is about, found in the file's `source`."""
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    message = lines[-1] if lines else "no message"
    line_no = None
    for line in lines:
        if str(path.name) in line and ", line " in line:
            line_no = line.split(", line ", 1)[1].split(",")[0]
    if line_no:
        return message + f" (line {line_no} of {path.name})"
    lowered = message.lower()
    for word, argument in _ARGUMENT_WORDS:
        if word not in lowered:
            continue
        for number, text in enumerate(source.splitlines(), start=1):
            if text.strip().startswith(f"{argument}="):
                return message + (f" (line {number} of {path.name}, its {argument} "
                                  "argument)")
    return message


def _epoch(stamp: Any) -> float | None:
    if not stamp:
        return None
    try:
        return _dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# -- finding a submitted run ---------------------------------------------------------------
def find_record(folder: str | Path, run: str) -> tuple[RunStore, Any] | None:
    """(store, record) of a submitted Airflow run: by store run id (or prefix),
    DAG_ID/DAG_RUN_ID or DAG run id."""
    from liminal_jupyter.runs.location import run_store_for

    store = run_store_for(folder)
    if not store.db_path.exists():
        return None
    for record in store.list_runs(limit=10_000):
        if record.backend != BACKEND or not record.remote_id:
            continue
        dag_run = record.remote_id.partition("/")[2]
        if run in (record.remote_id, record.run_id, dag_run) or (
                len(run) >= 8 and record.run_id.startswith(run)):
            return store, record
    return None


def run_url(host: str, remote_id: str) -> str:
    """The DAG run's page in Airflow 3's UI (`/dags/DAG_ID/runs/DAG_RUN_ID`)."""
    from urllib.parse import quote

    dag_id, dag_run_id = split_remote_id(remote_id)
    return f"{host.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(dag_run_id, safe='')}"


def is_remote(record: Any) -> bool:
    """A run submitted to a deployment (not `run --backend airflow` on this machine)."""
    return record.backend == BACKEND and "://" in (record.host or "") and \
        "/" in (record.remote_id or "")


def run_info(store: RunStore, run_id: str) -> dict[str, Any]:
    try:
        return json.loads((store.run_dir(run_id) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# -- watch -------------------------------------------------------------------------------
@dataclass
class RunState:
    state: str  # the DAG run's state: queued, running, success, failed
    tasks: dict[str, dict[str, Any]]  # task id -> its task instance (state, dates, try)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def key(self) -> tuple:
        return (self.state, tuple(sorted((t, i.get("state"), i.get("try_number"))
                                         for t, i in self.tasks.items())))


def get_state(client: AirflowClient, dag_id: str, dag_run_id: str) -> RunState:
    run = client.dag_run(dag_id, dag_run_id)
    tasks = {ti["task_id"]: ti for ti in client.task_instances(dag_id, dag_run_id)}
    return RunState(str(run.get("state") or "queued"), tasks)


def follow(client: AirflowClient, dag_id: str, dag_run_id: str, interval: float,
           on_change: Callable[[RunState], None],
           sleep: Callable[[float], None] | None = None) -> RunState:
    """Poll the DAG run every `interval` s, calling `on_change` on each new state, to its end."""
    last: tuple | None = None
    while True:
        current = get_state(client, dag_id, dag_run_id)
        if current.key() != last:
            on_change(current)
        last = current.key()
        if current.final:
            return current
        (sleep or time.sleep)(interval)


def step_of_task(pipeline_steps: list[str], task_id: str) -> str | None:
    """The step a task runs: compiled task ids are the step names."""
    return task_id if task_id in pipeline_steps else None


def record_state(store: RunStore, run_id: str, state: RunState,
                 client: AirflowClient | None = None) -> dict[str, str]:
    """Mirror a DAG run in the run store; returns {step: error paragraph} of failed steps."""
    info = run_info(store, run_id)
    steps = {s.step: s for s in store.steps(run_id)}
    errors: dict[str, str] = {}
    for task_id, ti in state.tasks.items():
        record = steps.get(task_id)
        status = TASK_STATES.get(ti.get("state"), "running")
        if record is None:
            continue
        fields: dict[str, Any] = {}
        if record.status != status:
            fields["status"] = status
        started, ended = _epoch(ti.get("start_date")), _epoch(ti.get("end_date"))
        if started and record.started != started:
            fields["started"] = started
        if ended and status not in ("waiting", "running") and record.ended != ended:
            fields["ended"] = ended
        attempt = max(0, int(ti.get("try_number") or 1) - 1)
        if attempt != record.attempt:
            fields["attempt"] = attempt
        if status in ("succeeded", "failed") and (fields.get("status") or record.error is None
                                                  and status == "failed"):
            details = _task_details(info, task_id, state, client, info.get("dag_id"),
                                    info.get("dag_run_id"))
            fields.update(details)
        if status == "failed":
            from liminal_jupyter.step.execute import render_error

            error = fields.get("error") or record.error
            errors[task_id] = render_error(error, task_id) if error else \
                f"step '{task_id}' failed (Airflow task {ti.get('state')})"
        if fields:
            store.update_step(run_id, task_id, **fields)
    if state.final:
        status = FINAL_STATES[state.state]
        message = "; ".join(errors[s] for s in steps if s in errors) or None
        if status == "failed" and not message:
            message = f"the DAG run {info.get('dag_run_id', '')} was marked failed"
        store.finish_run(run_id, status, message)
    return errors


def _task_details(info: dict[str, Any], task_id: str, state: RunState,
                  client: AirflowClient | None, dag_id: str | None,
                  dag_run_id: str | None) -> dict[str, Any]:
    """What the task recorded: its airflow-task.json when ARTIFACTS is readable here,
    else its metrics from the task's return value."""
    from liminal_jupyter.engines.airflow.runtime import TASK_STATE, clean_run_id

    artifacts = info.get("artifacts")
    data = None
    if artifacts and dag_run_id:
        data = _read_task_state(artifacts, clean_run_id(dag_run_id), task_id, TASK_STATE)
    if data:
        return {key: value for key, value in {
            "outputs": data.get("outputs") or {}, "metrics": data.get("metrics") or {},
            "error": data.get("error"), "executed_notebook": data.get("executed_notebook"),
            "log_path": data.get("log_path")}.items() if value is not None}
    if client is not None and dag_id and dag_run_id:
        try:
            value = client.return_value(dag_id, dag_run_id, task_id)
        except AirflowError:
            value = None
        if isinstance(value, dict):
            return {"metrics": value}
    return {}


def _read_task_state(artifacts: str, run_folder: str, step: str,
                     name: str) -> dict[str, Any] | None:
    from liminal_jupyter.engines.airflow.compile import is_url

    try:
        if is_url(artifacts):
            import fsspec

            with fsspec.open(f"{artifacts.rstrip('/')}/{run_folder}/{step}/{name}", "r") as f:
                return json.load(f)
        return json.loads((Path(artifacts) / run_folder / step / name).read_text("utf-8"))
    except Exception:  # noqa: BLE001 - a missing or unreadable record: fall back to the API
        return None


def cancel(client: AirflowClient, dag_id: str, dag_run_id: str) -> dict[str, Any]:
    """Mark the DAG run failed: the scheduler stops its running tasks, queued ones never
    start. AirflowError when it already ended."""
    run = client.dag_run(dag_id, dag_run_id)
    if run.get("state") in FINAL_STATES:
        raise AirflowError(f"the DAG run {dag_run_id} of {dag_id} already ended "
                           f"({run.get('state')}); nothing to cancel", EXIT_INVALID)
    return client.set_run_state(dag_id, dag_run_id, "failed")
