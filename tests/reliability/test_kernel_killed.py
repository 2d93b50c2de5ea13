"""A step's kernel killed with SIGKILL in the middle of the step (issue 20).

The step writes its kernel's pid to a file and sleeps; the test kills that pid from outside,
as the OOM killer would. Without `retries:` the step fails with a message that says its
kernel died, its dependant is skipped and an independent branch still finishes; with
`retries:1` a second attempt, in a new kernel, succeeds and the run goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from liminal_jupyter.runs.store import RunStore
from tests.conftest import code

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))


def victim_cells(*options: str) -> list[dict]:
    # The first attempt writes its pid and sleeps until killed; a later attempt (the file is
    # there) goes straight on.
    return [
        code("import os, time\nfrom pathlib import Path", "imports"),
        code("marker = Path('victim.pid')\nfirst = not marker.exists()\n"
             "marker.write_text(str(os.getpid()))\n"
             "time.sleep(120 if first else 0)\nv = 1", "step:victim", *options),
        code("w = v + 1", "step:dependant"),
        code("time.sleep(2)\nother = 5", "step:independent"),
        code("other", "metrics"),
    ]


def run_and_kill_victim(write_nb, tmp_path, *options: str):
    notebook = write_nb(victim_cells(*options))
    marker = tmp_path / "victim.pid"
    runner = subprocess.Popen([LIMINAL_NB, "run", str(notebook), "--no-tracking"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not (marker.exists() and marker.read_text().strip()):
            assert runner.poll() is None, runner.communicate()[0]
            assert time.monotonic() < deadline, "the victim step never started"
            time.sleep(0.1)
        kernel_pid = int(marker.read_text())
        assert kernel_pid != runner.pid
        time.sleep(0.3)  # in its sleep now
        os.kill(kernel_pid, signal.SIGKILL)
        out, _ = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    store = RunStore(tmp_path / ".liminal")
    run = store.list_runs(limit=1)[0]
    return runner.returncode, out, run, {r.step: r for r in store.steps(run.run_id)}


def test_a_step_whose_kernel_is_killed_fails_clearly_and_the_run_goes_on(write_nb, tmp_path):
    status, out, run, steps = run_and_kill_victim(write_nb, tmp_path)

    assert status != 0, out
    assert run.status == "failed"
    assert {name: r.status for name, r in steps.items()} == {
        "victim": "failed", "dependant": "skipped", "independent": "succeeded"}
    assert steps["independent"].metrics == {"other": 5.0}
    error = str(steps["victim"].error)
    assert "died" in error.lower() or "dead" in error.lower(), error
    assert "victim" in out and ("died" in out.lower() or "dead" in out.lower()), out
    assert "Traceback (most recent call last)" not in out


def test_a_step_whose_kernel_is_killed_runs_again_when_it_has_retries(write_nb, tmp_path):
    status, out, run, steps = run_and_kill_victim(write_nb, tmp_path, "retries:1")

    assert status == 0, out
    assert run.status == "succeeded"
    assert {name: r.status for name, r in steps.items()} == {
        "victim": "succeeded", "dependant": "succeeded", "independent": "succeeded"}
    assert steps["victim"].attempt == 1
    log = Path(steps["victim"].log_path).read_text()
    assert log.count("--- attempt") == 2, log
