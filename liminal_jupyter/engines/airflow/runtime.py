"""What an Airflow task of a compiled DAG runs: one step, through the shared step executor.

`run_task` runs `python -m liminal_jupyter.step run` (the same entry point as every other
backend) in a child process of the task's interpreter, with the pipeline IR, the step's
parameter values and its upstream steps' saved values as JSON files, so nothing from the
notebook or a DAG-run conf is ever pasted into code or a shell line.

Run folder: ARTIFACTS/<cleaned run id>/<step>/ receives what the step executor writes
(step.ipynb, executed.ipynb, artifacts/, outputs.json, result.json) plus
- `log.txt`, the cells' output (also echoed into the Airflow task log);
- `executed.html`, the executed notebook as a standalone page (step/html.py), whose
  location the task's log names;
- `liminal-manifest.json`, the step's saved values with paths relative to the folder, so a
  downstream task finds them wherever its copy of the folder lives;
- `airflow-task.json`, the task's state ('running', then 'succeeded' or 'failed') with its
  outputs, metrics and error: what `liminal-nb run --backend airflow` follows and records.

Working directory: a fresh temporary folder (or $LIMINAL_WORKDIR) holding the workspace
(the archive written next to ARTIFACTS at compile time, fetched and checked) and the files
earlier steps wrote that this step reads; files the step writes there are kept in
`files/` of its run folder and listed in its manifest and task state (step/workdir.py).

ARTIFACTS may be an fsspec URL (s3://, gs://, file://): the step then runs in a local
staging folder, its upstream folders are fetched first and its own is uploaded after. Its
credentials come from the worker's environment, or for s3:// from the Airflow connection
the DAG names (engines/airflow/storage.py).

A failed step raises StepFailed whose message is the step's one-paragraph error (the step,
the notebook cell and line, the exception), which Airflow shows and marks the task failed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from liminal_jupyter.step.runtime import (
    MANIFEST,
    StepFailed,
    file_inputs,
    parameter_values,
    read_manifest,
    write_manifest,
)

__all__ = ["MANIFEST", "TASK_STATE", "StepFailed", "clean_run_id", "parameter_values",
           "run_task"]

TASK_STATE = "airflow-task.json"
ELEMENTS = "foreach-elements.json"  # a fan-out step's folder: {"count": its elements}
LOG = "log.txt"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def clean_run_id(run_id: str) -> str:
    """An Airflow run id (`manual__2026-11-26T15:00:00+00:00`) as a folder name: every run
    of characters other than letters, digits, '_', '-' and '.' becomes one '_'."""
    cleaned = _UNSAFE.sub("_", str(run_id)).strip("._") or "run"
    return cleaned if cleaned[0].isalnum() else "run" + cleaned


def run_task(
    ir: str,
    step: str,
    params: dict[str, Any],
    run_id: str,
    artifacts: str,
    *,
    python: str | None = None,
    workdir: str | None = None,
    try_number: int | None = None,
    workspace: dict[str, Any] | None = None,
    element: int | None = None,
    connection: str | None = None,
) -> dict[str, Any]:
    """Run `step` of the pipeline `ir` (JSON) for Airflow run `run_id`; return its metrics.

    params: the DAG run's params (defaults merged with its conf); those the pipeline does
    not declare are ignored, None keeps the notebook's own default. artifacts: the root of
    the run folders, a path or an fsspec URL. python: the interpreter for the step executor
    (default: this one). workdir: the kernel's working directory ($LIMINAL_WORKDIR wins;
    a fresh temporary folder when neither exists). workspace: the workspace archive's
    reference (step/workspace_pack.py). element: for a fan-out step (foreach:), the
    element this mapped task runs; its folder is STEP.I (step/foreach.py). connection: the
    Airflow connection id whose keys reach s3:// artifacts (engines/airflow/storage.py).
    Raises StepFailed when the step fails.
    """
    from liminal_jupyter.pipeline import Pipeline
    from liminal_jupyter.step.foreach import element_name

    pipeline = Pipeline.from_json(json.loads(ir))
    the_step = pipeline.step(step)
    store = _RunFolder(artifacts, clean_run_id(run_id), _storage_options(connection))
    folder_name = step if element is None else element_name(step, int(element))
    out = store.local_step_dir(folder_name)
    started = time.time()
    state: dict[str, Any] = {"step": folder_name, "state": "running", "started": started,
                             "try_number": try_number, "run_id": run_id}
    _write_json(out / TASK_STATE, state)
    store.upload(folder_name, out)
    files: list[str] = []
    try:
        from liminal_jupyter.step.workdir import step_folder

        handed = file_inputs(the_step, {p: store.fetch(p) for p in the_step.producers
                                        if not pipeline.step(p).foreach})
        with step_folder(workspace if the_step.files else None, handed, out,
                         workdir, store.storage_options) as folder:
            result = _execute(pipeline, the_step, params, store, out, python, str(folder.path),
                              element)
        files = folder.files
    except BaseException as exc:  # a timeout or a kill must still leave a final state
        if type(exc).__name__ == "AirflowTaskTimeout":
            message = (f"step '{step}' timed out after {the_step.options.timeout} s (its "
                       "timeout: tag) and was stopped")
        else:
            message = f"step '{step}' did not finish: {type(exc).__name__}: {exc}".rstrip(": ")
        state.update(state="failed", ended=time.time(),
                     error={"step": step, "message": message})
        _write_json(out / TASK_STATE, state)
        store.upload(folder_name, out)
        raise
    _html_page(result, out, f"{store.root}/{folder_name}")
    succeeded = result.get("status") == "succeeded"
    if succeeded:
        write_manifest(out, folder_name, result.get("outputs") or {},
                       result.get("metrics") or {}, files)
    state.update(state="succeeded" if succeeded else "failed", ended=time.time(), files=files,
                 outputs=result.get("outputs") or {}, metrics=result.get("metrics") or {},
                 error=result.get("error"), executed_notebook=result.get("executed_notebook"),
                 log_path=str(out / LOG))
    _write_json(out / TASK_STATE, state)
    store.upload(folder_name, out)
    if not succeeded:
        from liminal_jupyter.step.execute import render_error

        raise StepFailed(render_error(result.get("error"), step))
    return result.get("metrics") or {}


def _execute(pipeline: Any, step: Any, params: dict[str, Any], store: _RunFolder, out: Path,
             python: str | None, workdir: str, element: int | None = None) -> dict[str, Any]:
    """Run the step executor in a child process; its result.json as a dict."""
    from liminal_jupyter.step.__main__ import RESULT
    from liminal_jupyter.step.html import EXECUTED_HTML

    (out / EXECUTED_HTML).unlink(missing_ok=True)  # a retry's page is the retry's
    pipeline_path, params_path, inputs_path = (out / "pipeline.json", out / "parameters.json",
                                               out / "inputs.json")
    _write_json(pipeline_path, pipeline.to_json())
    _write_json(params_path, parameter_values(pipeline, params))
    _write_json(inputs_path, _inputs(step, store, pipeline))
    (out / RESULT).unlink(missing_ok=True)
    command = [python or sys.executable, "-m", "liminal_jupyter.step", "run",
               "--pipeline", str(pipeline_path), "--step", step.name,
               "--output-dir", str(out), "--parameters", str(params_path),
               "--inputs", str(inputs_path), "--cwd", workdir, "--log-output",
               "--html", str(out / EXECUTED_HTML),
               *(["--element", str(int(element))] if element is not None else [])]
    env = {**os.environ, **{str(k): str(v) for k, v in step.options.env.items()},
           "PYTHONUNBUFFERED": "1"}
    code = _run_logged(command, env, out / LOG)
    try:
        return json.loads((out / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log_tail = (out / LOG).read_text(encoding="utf-8", errors="replace")[-2000:]
        return {"status": "failed", "error": {
            "step": step.name,
            "message": f"step '{step.name}' could not run (the step executor exited with "
                       f"code {code} and wrote no result): {log_tail.strip()}"}}


def _run_logged(command: list[str], env: dict[str, str], log: Path) -> int:
    """Run `command`, its output into `log` and this task's log; kill it if the task is
    stopped meanwhile (timeout, cancel): its kernel exits when its parent is gone.

    The child stays in the task's process group, so whoever stops the task's group (the
    worker, `run --backend airflow` on Ctrl-C) stops the step too."""
    with open(log, "a", encoding="utf-8") as sink:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env, text=True,
                                 errors="replace")
        try:
            for line in child.stdout:
                sink.write(line)
                sink.flush()
                sys.stdout.write(line)
            return child.wait()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


def _html_page(result: dict[str, Any], out: Path, location: str) -> None:
    """executed.html beside the executed notebook in the step's folder (uploaded with it;
    the step executor wrote it), and its final location in the task's log, where a
    reader of the task looks first. A step executor that could not start wrote none:
    rendered here then, from whatever notebook there is."""
    from liminal_jupyter.step.html import EXECUTED_HTML, render_step_page

    page = out / EXECUTED_HTML
    if not page.is_file():
        executed = result.get("executed_notebook") or str(out / "executed.ipynb")
        if not Path(executed).is_file() or render_step_page(executed, page) is None:
            return
    print(f"liminal: the executed notebook as HTML: {location}/{EXECUTED_HTML}", flush=True)


def _inputs(step: Any, store: _RunFolder, pipeline: Any = None) -> dict[str, Any]:
    """The saved-value records of the names the step reads, from their producers' manifests;
    from a fan-out producer, a list of records per name (its elements', in order)."""
    wanted: dict[str, list[str]] = {}
    for inp in step.data_inputs:
        wanted.setdefault(inp.producer, []).append(inp.name)
    records: dict[str, Any] = {}
    for producer, names in wanted.items():
        if pipeline is not None and pipeline.step(producer).foreach:
            records.update(_element_records(step, producer, names, store))
            continue
        saved = read_manifest(store.fetch(producer), producer)
        for name in names:
            if name not in saved:
                raise StepFailed(f"step '{step.name}': step '{producer}' saved no value "
                                 f"'{name}'; was it compiled from this notebook version?")
            records[name] = saved[name]
    return records


def _element_records(step: Any, producer: str, names: list[str],
                     store: _RunFolder) -> dict[str, list[dict[str, Any]]]:
    """name -> the records of each element of fan-out step `producer`, in element order."""
    from liminal_jupyter.step.foreach import element_name

    try:
        count = int(json.loads((store.fetch(producer) / ELEMENTS).read_text())["count"])
    except (OSError, ValueError, KeyError, TypeError):
        raise StepFailed(f"step '{step.name}': step '{producer}' recorded no elements; did it "
                         "run in this DAG run?") from None
    manifests = [read_manifest(store.fetch(element_name(producer, i)), element_name(producer, i))
                 for i in range(count)]
    records: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        if any(name not in m for m in manifests):
            raise StepFailed(f"step '{step.name}': an element of step '{producer}' saved no "
                             f"value '{name}'")
        records[name] = [m[name] for m in manifests]
    return records


def foreach_task_elements(ir: str, step: str, params: dict[str, Any], run_id: str,
                          artifacts: str, connection: str | None = None
                          ) -> list[dict[str, Any]]:
    """The task before a fan-out step (foreach:NAME): NAME checked (a list, within the
    step's cap), its element count kept in the step's folder for the readers of its
    outputs, and one op_kwargs per element for the mapped task. On a bad list the step's
    state says why (one line naming the step and NAME's type) and StepFailed is raised."""
    from liminal_jupyter.pipeline import Pipeline
    from liminal_jupyter.step.foreach import ForeachError, check_elements, foreach_max, load_input

    pipeline = Pipeline.from_json(json.loads(ir))
    the_step = pipeline.step(step)
    name = the_step.foreach
    store = _RunFolder(artifacts, clean_run_id(run_id), _storage_options(connection))
    out = store.local_step_dir(step)
    state: dict[str, Any] = {"step": step, "state": "running", "started": time.time(),
                             "run_id": run_id}
    (out / ELEMENTS).unlink(missing_ok=True)
    try:
        source = next(i for i in the_step.inputs if i.name == name)
        if source.kind == "parameter":
            defaults = {p.name: p.default for p in pipeline.parameters}
            value = {**defaults, **parameter_values(pipeline, params)}.get(name)
        else:
            value = load_input(_inputs(the_step, store, pipeline)[name])
        count = check_elements(step, name, value,
                               foreach_max(the_step.options.foreach_max, pipeline.settings))
    except Exception as exc:
        message = str(exc) if isinstance(exc, ForeachError | StepFailed) else (
            f"step '{step}' could not read {name}, the list it runs over: "
            f"{type(exc).__name__}: {exc}")
        state.update(state="failed", ended=time.time(), error={"step": step, "message": message})
        _write_json(out / TASK_STATE, state)
        store.upload(step, out)
        raise StepFailed(message) from None
    _write_json(out / ELEMENTS, {"count": count})
    _write_json(out / TASK_STATE, state)
    store.upload(step, out)
    print(f"liminal: step '{step}' runs once per element of {name}: {count} elements")
    return [{"step": step, "element": i} for i in range(count)]


def _write_json(path: Path, data: Any) -> None:
    from liminal_jupyter.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str))


def _storage_options(connection: str | None) -> dict[str, Any]:
    """fsspec options from Airflow connection `connection`; StepFailed when it cannot be
    read (the task fails with that one line, before any step state is written)."""
    if not connection:
        return {}
    from liminal_jupyter.engines.airflow.storage import ArtifactsConnectionError, storage_options

    try:
        return storage_options(connection)
    except ArtifactsConnectionError as exc:
        raise StepFailed(str(exc)) from None


class _RunFolder:
    """ARTIFACTS/<run>/: a local folder, or a remote one (fsspec) mirrored through a
    local staging folder."""

    def __init__(self, artifacts: str, run: str,
                 storage_options: dict[str, Any] | None = None):
        self.storage_options = storage_options or {}
        self.remote = bool(_URL.match(artifacts)) and not artifacts.startswith("file:///")
        if artifacts.startswith("file://") and not self.remote:
            artifacts = artifacts[len("file://"):]
        self.root = artifacts.rstrip("/") + "/" + run
        self.local = Path(tempfile.mkdtemp(prefix="liminal-airflow-")) if self.remote \
            else Path(self.root)

    def local_step_dir(self, step: str) -> Path:
        folder = self.local / step
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def fetch(self, step: str) -> Path:
        """The local folder of an upstream step (downloaded first when remote)."""
        folder = self.local / step
        if self.remote:
            import fsspec

            fs, path = fsspec.core.url_to_fs(f"{self.root}/{step}", **self.storage_options)
            if fs.exists(path):
                fs.get(path.rstrip("/") + "/", str(folder) + "/", recursive=True)
        return folder

    def upload(self, step: str, folder: Path) -> None:
        if not self.remote:
            return
        import fsspec

        fs, path = fsspec.core.url_to_fs(f"{self.root}/{step}", **self.storage_options)
        fs.put(str(folder) + "/", path.rstrip("/") + "/", recursive=True)

    def __del__(self) -> None:
        if self.remote:
            shutil.rmtree(self.local, ignore_errors=True)
