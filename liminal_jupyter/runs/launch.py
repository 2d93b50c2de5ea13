"""Start a run in a child process and stop it: for callers that must not block or host it.

The Jupyter server extension and the Python API inside a notebook both start runs, and
neither may run user code in its own process (a crashing step must not take down the
Jupyter server or the user's kernel, and the user's kernel state must stay untouched). So
they start `liminal-nb run` as a child in its own session, exactly as a user would from a
terminal, and read its progress from the run store like every other view: a server
restart loses nothing, and a run started elsewhere shows up the same way.

The run id is reserved here, before the child starts, so the caller can answer with it at
once; `launch_run` returns once the child has recorded the run (or has failed to start, with
the child's own error message).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.store import RunNotFound, RunRecord, RunStore

RUNNER_EVENTS = "runner-events.jsonl"  # the child's --json progress, one event a line
RUNNER_LOG = "runner-stderr.txt"  # the child's stderr: why it failed to start, if it did
REQUEST = "request.json"  # the parameters asked for, handed to the child as a params file


class LaunchError(Exception):
    """The run could not start; the message is the runner's own error (bad parameter, ...)."""


@dataclass
class LaunchedRun:
    run_id: str
    notebook: Path
    store: RunStore
    process: subprocess.Popen[bytes]

    @property
    def events_path(self) -> Path:
        return self.store.run_dir(self.run_id) / RUNNER_EVENTS

    def record(self) -> RunRecord:
        return self.store.get_run(self.run_id)


def run_store_for(notebook: str | os.PathLike[str]) -> RunStore:
    from liminal_jupyter.runs.location import liminal_dir

    return RunStore(liminal_dir(notebook))


def launch_run(
    notebook: str | os.PathLike[str],
    parameters: dict[str, Any] | None = None,
    *,
    backend: str = "local",
    jobs: int | None = None,
    use_cache: bool = True,
    tracking: bool = True,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    resume: str | None = None,
    wait_recorded: float = 120.0,
    steps: dict[str, Any] | None = None,
) -> LaunchedRun:
    """Start `liminal-nb run NOTEBOOK` in a new session; return once the run is recorded.

    parameters: name -> value, typed or as text, checked by the runner exactly as
    `--params-file` values are (an unknown name or a wrong type is a LaunchError).
    backend: an engine that runs (the faces check it against the engine registry; the
    runner refuses an unknown one, a LaunchError with its message).
    wait_recorded: seconds to wait for the run record (0 returns at once).
    steps: a partial run, {"from": STEP, "to": STEP, "only": [STEP, ...]} (any of them).
    """
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise LaunchError(f"{notebook}: no such notebook")
    store = run_store_for(notebook)
    run_id = resume or store.new_run_id()
    run_dir = store.run_dir(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "liminal_jupyter", "run", str(notebook), "--json",
               "--backend", backend]
    if resume:
        command += ["--resume", resume]
    else:
        command += ["--run-id", run_id]
        if parameters:
            request = run_dir / REQUEST
            request.write_text(json.dumps(parameters), encoding="utf-8")  # JSON is YAML
            command += ["--params-file", str(request)]
    for key, value in (steps or {}).items():
        if value:
            command += [f"--{key}", ",".join(value) if isinstance(value, list) else value]
    if jobs:
        command += ["--jobs", str(jobs)]
    if not use_cache:
        command.append("--no-cache")
    if not tracking:
        command.append("--no-tracking")
    if tracking_uri:
        command += ["--tracking-uri", tracking_uri]
    if experiment:
        command += ["--experiment", experiment]
    with open(run_dir / RUNNER_EVENTS, "ab") as events, open(run_dir / RUNNER_LOG, "ab") as log:
        process = subprocess.Popen(
            command, cwd=notebook.parent, stdin=subprocess.DEVNULL, stdout=events,
            stderr=log, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    launched = LaunchedRun(run_id, notebook, store, process)
    if wait_recorded:
        _wait_recorded(launched, wait_recorded, resumed=bool(resume))
    return launched


def _wait_recorded(launched: LaunchedRun, timeout: float, resumed: bool) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not resumed:
            try:
                launched.record()
                return
            except RunNotFound:
                pass
        elif launched.record().runner_pid == launched.process.pid:
            return
        if launched.process.poll() is not None:
            try:
                launched.record()
                return  # it ran (quickly) to the end
            except RunNotFound:
                message = _start_failure(launched)
                if not resumed:  # nothing was recorded: give the reserved id back
                    shutil.rmtree(launched.store.run_dir(launched.run_id), ignore_errors=True)
                raise LaunchError(message) from None
        time.sleep(0.05)
    raise LaunchError(f"run {launched.run_id}: the runner did not start within {timeout:.0f} s")


def _start_failure(launched: LaunchedRun) -> str:
    log = launched.store.run_dir(launched.run_id) / RUNNER_LOG
    text = log.read_text(encoding="utf-8", errors="replace").strip() if log.exists() else ""
    lines = [line.removeprefix("error: ") for line in text.splitlines() if line.strip()]
    return "\n".join(lines) or f"the runner exited with status {launched.process.returncode}"


def cancel_run(store: RunStore, run_id: str) -> bool:
    """Ask a running run to stop (SIGTERM to its runner): finished steps are kept and the
    run is recorded 'cancelled'. Returns False when the run is not running any more.
    """
    run = store.get_run(run_id)
    if run.finished or not run.runner_pid:
        return False
    try:
        os.kill(run.runner_pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True
