"""Runs started in a child process (`launch.py`), as the Jupyter server and the Python API do.

Real runner processes with real kernels; tiny standard-library notebooks, no MLflow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import code

from liminal_jupyter.runs.launch import LaunchError, cancel_run, launch_run

COUNT = [
    code("n = 3\nlabel = 'x'", "parameters"),
    code("rows = list(range(n))", "step:load"),
    code("total = sum(rows)\nnote = label", "step:add"),
    code("total", "metrics"),
]

SLOW = [
    code("import time", "imports"),
    code("start = 1", "step:first"),
    code("time.sleep(600)\nfinish = start", "step:wait"),
]


def wait_finished(launched, timeout: float = 180.0):
    try:
        launched.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(launched.process.pid, signal.SIGKILL)  # never leave a runner behind
        raise
    return launched.record()


def test_a_launched_run_is_recorded_at_once_and_completes_with_the_parameters(write_nb):
    notebook = write_nb(COUNT)
    tricky = "it's \"quoted\"\n__import__('os').system('false')"

    launched = launch_run(notebook, {"n": 5, "label": tricky}, tracking=False)

    assert launched.record().run_id == launched.run_id  # recorded before launch returned
    run = wait_finished(launched)
    assert launched.process.returncode == 0
    assert run.status == "succeeded"
    assert run.parameters == {"n": 5, "label": tricky}
    steps = {s.step: s for s in launched.store.steps(launched.run_id)}
    assert steps["add"].metrics == {"total": 10.0}
    events = [json.loads(line) for line in launched.events_path.read_text().splitlines()]
    assert events[0]["event"] == "run_started" and events[0]["run_id"] == launched.run_id
    assert events[-1]["event"] == "run_finished"


def test_a_bad_parameter_is_the_runners_own_error_and_leaves_no_run(write_nb):
    notebook = write_nb(COUNT)

    with pytest.raises(LaunchError, match="n") as caught:
        launch_run(notebook, {"n": "many"}, tracking=False)

    assert "expected a whole number" in str(caught.value)
    runs = notebook.parent / ".liminal" / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def test_cancel_stops_a_running_run_and_keeps_finished_steps(write_nb):
    notebook = write_nb(SLOW)
    launched = launch_run(notebook, tracking=False)
    deadline = time.monotonic() + 120
    while launched.store.get_step(launched.run_id, "wait").status != "running":
        assert time.monotonic() < deadline, "step 'wait' never started"
        assert launched.process.poll() is None, "the runner exited early"
        time.sleep(0.2)

    assert cancel_run(launched.store, launched.run_id)

    run = wait_finished(launched, timeout=60)
    assert run.status == "cancelled"
    assert launched.store.get_step(launched.run_id, "first").status == "succeeded"
    assert not cancel_run(launched.store, launched.run_id)  # nothing left to stop
