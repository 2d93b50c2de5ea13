"""A tracked local run keeps MLflow out of the runner's process: the tracker is a process
of its own (tracking/process.py), so its seconds of imports and model writing run beside
the step's kernel instead of holding the runner's interpreter lock. These tests run real
`liminal-nb run`s with the default SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
from conftest import code, notebook_json

from liminal_jupyter.runs.store import RunStore

RUNNER = ("import sys\nfrom liminal_jupyter.cli import main\n"
          "status = main(['run', sys.argv[1], '-q', '--no-cache'])\n"
          "print('MLFLOW-IMPORTED' if 'mlflow' in sys.modules else 'MLFLOW-NOT-IMPORTED')\n"
          "sys.exit(status)\n")


def test_a_tracked_run_is_recorded_in_mlflow_without_importing_it_in_the_runner(tmp_path):
    notebook = tmp_path / "tracked.ipynb"
    notebook.write_text(json.dumps(notebook_json([
        code("x = 2", "step:first"), code("y = x * 21", "step:second"), code("y", "metrics")])))
    done = subprocess.run([sys.executable, "-c", RUNNER, str(notebook)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MLFLOW-NOT-IMPORTED" in done.stdout
    store = RunStore(tmp_path / ".liminal")
    run = store.list_runs(limit=1)[0]
    assert run.tracking_run_id  # the tracker's child reported its MLflow run

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / '.liminal' / 'mlflow.db'}")
    parent = client.get_run(run.tracking_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics.get("y") == 42 or any(
        child.data.metrics.get("y") == 42 for child in client.search_runs(
            [parent.info.experiment_id],
            f"tags.mlflow.parentRunId = '{run.tracking_run_id}'"))


def test_the_tracker_process_ends_when_its_runner_is_killed(tmp_path):
    """SIGKILL of the runner leaves no tracker behind (it checks its parent every 2 s)."""
    notebook = tmp_path / "slow.ipynb"
    notebook.write_text(json.dumps(notebook_json([
        code("import time\ntime.sleep(60)\nx = 1", "step:slow")])))
    runner = subprocess.Popen([sys.executable, "-m", "liminal_jupyter.cli", "run",
                               str(notebook), "-q"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        tracker = None
        deadline = time.monotonic() + 60
        while tracker is None and time.monotonic() < deadline:
            for child in psutil.Process(runner.pid).children():
                if "multiprocessing.spawn" in " ".join(child.cmdline()) and \
                        "resource_tracker" not in " ".join(child.cmdline()):
                    tracker = child
            time.sleep(0.2)
        assert tracker is not None, "the tracked run started no tracker process"
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
        gone, alive = psutil.wait_procs([tracker], timeout=20)
        assert tracker in gone, "the tracker outlived its runner"
    finally:
        try:
            os.killpg(runner.pid, signal.SIGKILL)  # the kernel and whatever is left
        except ProcessLookupError:
            pass
