"""The local runner: data passing, failure, parallelism, cache, kill and resume, MLflow.

Real kernels through papermill (about 1.5 s a step), no mocks. Notebooks are tiny and,
except where tracking is the point, run with `--no-tracking`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import code

from liminal_jupyter.cli import main
from liminal_jupyter.runs.store import RunStore, StepRecord, process_alive, process_start_time

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `liminal-nb ARGS` in this process: (exit status, stdout, stderr)."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def run(capsys, notebook: Path, *options: str) -> tuple[str, dict[str, StepRecord]]:
    """`liminal-nb run NOTEBOOK --no-tracking OPTIONS`, which must succeed: (run id, steps)."""
    status, out, err = cli(capsys, "run", str(notebook), "--no-tracking", *options)
    assert status == 0, out + err
    store = RunStore(notebook.parent / ".liminal")
    run_id = store.list_runs(limit=1)[0].run_id
    return run_id, {r.step: r for r in store.steps(run_id)}


def statuses(steps: dict[str, StepRecord]) -> dict[str, str]:
    return {name: record.status for name, record in steps.items()}


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout} s for {what}")


def test_a_prelude_that_reads_a_parameter_runs_after_the_values_set_for_the_run(
    write_nb, tmp_path, capsys
):
    """The IR says what the prelude reads (`prelude_reads`): one that reads a parameter is
    not run ahead in a warm kernel, where the value set for the run is not known yet."""
    notebook = write_nb([
        code("scale = 2", "parameters"),
        code("FACTOR = scale * 10", "functions"),
        code("import json, pathlib\npathlib.Path('seen.json').write_text(json.dumps(FACTOR))",
             "step:only"),
    ])
    status, out, err = cli(capsys, "run", str(notebook), "--no-tracking", "-p", "scale=3")
    assert status == 0, out + err
    assert json.loads((tmp_path / "seen.json").read_text()) == 30
    # Run ahead, it would fail (`scale` unknown) and only the cold fallback would save
    # the step: that is a warning, and there is none.
    assert "warning" not in out + err


# -- 2. data passing by type --------------------------------------------------------------
def test_values_of_each_kind_reach_a_later_step_intact(write_nb, tmp_path, capsys):
    notebook = write_nb([
        code("import json\nimport numpy as np\nimport pandas as pd", "imports"),
        code("frame = pd.DataFrame({'x': [1, 2, 3], 'y': ['a', 'b', 'c']})\n"
             "grid = np.arange(6, dtype='float32').reshape(2, 3) * 1.5\n"
             "info = {'name': 'iris', 'sizes': [1, 2], 'nested': {'k': None, 'ok': True}}\n"
             "def double(value):\n"
             "    return value * 2", "step:make"),
        code("received = {\n"
             "    'frame': [type(frame).__name__, frame.to_dict('list'),\n"
             "              [str(t) for t in frame.dtypes]],\n"
             "    'grid': [type(grid).__name__, str(grid.dtype), list(grid.shape),\n"
             "             grid.tolist()],\n"
             "    'info': info,\n"
             "    'double': [double.__name__, double(21)],\n"
             "}\n"
             "with open('received.json', 'w') as f:\n"
             "    json.dump(received, f)\n"
             "frame_total = frame['x'].sum()\n"
             "grid_total = grid.sum()\n"
             "doubled = double(21)", "step:use"),
        code("frame_total\ngrid_total\ndoubled", "metrics"),
    ])

    _, steps = run(capsys, notebook)

    import pandas as pd

    dtypes = [str(t) for t in pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}).dtypes]
    assert statuses(steps) == {"make": "succeeded", "use": "succeeded"}
    kinds = {name: saved["marshaller"] for name, saved in steps["make"].outputs.items()}
    assert set(kinds) == {"frame", "grid", "info", "double"}
    assert kinds["frame"] == "parquet" and kinds["info"] == "json"
    assert steps["use"].metrics == {"frame_total": 6.0, "grid_total": 22.5, "doubled": 42.0}
    assert json.loads((tmp_path / "received.json").read_text()) == {
        "frame": ["DataFrame", {"x": [1, 2, 3], "y": ["a", "b", "c"]}, dtypes],
        "grid": ["ndarray", "float32", [2, 3], [[0.0, 1.5, 3.0], [4.5, 6.0, 7.5]]],
        "info": {"name": "iris", "sizes": [1, 2], "nested": {"k": None, "ok": True}},
        "double": ["double", 42],
    }


# -- 4. parallelism -----------------------------------------------------------------------
def test_independent_steps_overlap_with_two_jobs_and_not_with_one(write_nb, capsys):
    notebook = write_nb([
        code("import time", "imports"),
        code("time.sleep(3)\nleft = 1", "step:left"),
        code("time.sleep(3)\nright = 2", "step:right"),
    ])

    def intervals(steps):
        return sorted((r.started, r.ended) for r in steps.values())

    _, steps = run(capsys, notebook, "--jobs", "2")
    (start_a, end_a), (start_b, end_b) = intervals(steps)
    assert start_b < end_a, f"with --jobs 2 the steps ran one after the other: {steps}"

    _, steps = run(capsys, notebook, "--jobs", "1", "--no-cache")
    assert statuses(steps) == {"left": "succeeded", "right": "succeeded"}
    (start_a, end_a), (start_b, end_b) = intervals(steps)
    assert end_a <= start_b, f"with --jobs 1 the steps overlapped: {steps}"


# -- 5. cache -----------------------------------------------------------------------------
def cache_notebook(clean: str = "cleaned = sorted(raw)", clock: bool = False) -> list[dict]:
    cells = [
        code("raw = [3, 1, 2]", "step:load"),
        code(clean, "step:clean"),
        code("model = sum(cleaned)", "step:train"),
        code("model", "metrics"),
    ]
    if clock:
        cells.append(code("import time\nstamp = time.time()", "step:clock", "cache:off"))
    return cells


def kernels_started(store: RunStore, run_id: str) -> list[Path]:
    return sorted(store.run_dir(run_id).glob("steps/*/executed.ipynb"))


def test_cache_reuses_unchanged_steps_and_reruns_edited_ones(write_nb, tmp_path, capsys):
    store = RunStore(tmp_path / ".liminal")
    notebook = write_nb(cache_notebook())
    first, steps = run(capsys, notebook)
    assert set(statuses(steps).values()) == {"succeeded"}

    again, steps = run(capsys, notebook)
    assert statuses(steps) == {"load": "cached", "clean": "cached", "train": "cached"}
    assert {r.cached_from_run for r in steps.values()} == {first}
    assert kernels_started(store, again) == []
    assert not list(store.run_dir(again).glob("steps/*/log.txt"))
    assert steps["train"].metrics == {"model": 6.0}

    notebook = write_nb(cache_notebook(clean="cleaned = sorted(raw)[1:]"))
    edited, steps = run(capsys, notebook)
    assert statuses(steps) == {"load": "cached", "clean": "succeeded", "train": "succeeded"}
    assert [p.parent.name for p in kernels_started(store, edited)] == ["clean", "train"]
    assert steps["train"].metrics == {"model": 5.0}

    _, steps = run(capsys, notebook, "--no-cache")
    assert set(statuses(steps).values()) == {"succeeded"}
    assert {r.cached_from_run for r in steps.values()} == {None}

    notebook = write_nb(cache_notebook(clean="cleaned = sorted(raw)[1:]", clock=True))
    for _ in range(2):
        latest, steps = run(capsys, notebook)
        assert statuses(steps) == {"load": "cached", "clean": "cached", "train": "cached",
                                   "clock": "succeeded"}
        assert [p.parent.name for p in kernels_started(store, latest)] == ["clock"]


# -- 6. the runner killed with SIGKILL, then resumed --------------------------------------
def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = (ppid, cmdline)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_killed_runner_leaves_an_interrupted_run_that_resume_completes(
    write_nb, tmp_path, capsys
):
    delay = tmp_path / "delay.txt"
    delay.write_text("30")
    notebook = write_nb([
        code("import time", "imports"),
        code("base = 5", "step:first"),
        code("with open('delay.txt') as f:\n    time.sleep(float(f.read()))\nresult = base * 2",
             "step:second"),
        code("final = result + 1", "step:third"),
        code("final", "metrics"),
    ])
    store = RunStore(tmp_path / ".liminal")
    runner = subprocess.Popen([LIMINAL_NB, "run", str(notebook), "--no-tracking"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def second_running():
            runs = store.list_runs(limit=1) if store.db_path.exists() else []
            if not runs:
                return None
            steps = statuses({r.step: r for r in store.steps(runs[0].run_id)})
            if steps["first"] == "succeeded" and steps["second"] == "running":
                return runs[0].run_id
            return None

        run_id = wait_for(second_running, 60, "step 'first' succeeded, 'second' running")
        step_dir = str(store.step_dir(run_id, "second"))

        def kernels():
            """The runner's kernels: the one running 'second' and any warm ones."""
            found = [pid for pid, (ppid, cmd) in _processes().items()
                     if ppid == runner.pid and "ipykernel" in cmd]
            return found or None

        pids = wait_for(kernels, 30, "the runner's kernels")
        started = {pid: process_start_time(pid) for pid in pids}
        time.sleep(0.5)  # the kernel is in its sleep now
        first_before = store.get_step(run_id, "first")
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()

    status, out, _ = cli(capsys, "runs", str(tmp_path))
    assert status == 0
    (line,) = [line for line in out.splitlines() if line.startswith(run_id)]
    assert line.split()[1] == "interrupted"

    wait_for(lambda: not any(process_alive(pid, started[pid]) for pid in pids), 10,
             f"the kernels ({pids}) to end")
    assert not [pid for pid, (_, cmd) in _processes().items() if run_id in cmd]

    steps = {r.step: r for r in store.steps(run_id)}
    assert statuses(steps) == {"first": "succeeded", "second": "interrupted",
                               "third": "interrupted"}
    assert steps["second"].outputs == {} and steps["second"].metrics == {}
    assert not (Path(step_dir) / "result.json").exists()
    assert not (Path(step_dir) / "outputs.json").exists()

    delay.write_text("0")
    executed_first = Path(first_before.executed_notebook)
    mtime_first = executed_first.stat().st_mtime_ns
    status, out, err = cli(capsys, "run", str(notebook), "--no-tracking", "--resume", run_id)
    assert status == 0, out + err
    assert f"run {run_id}: succeeded" in out

    steps = {r.step: r for r in store.steps(run_id)}
    assert statuses(steps) == {"first": "succeeded", "second": "succeeded",
                               "third": "succeeded"}
    assert steps["first"] == first_before  # reused as recorded, not run again
    assert executed_first.stat().st_mtime_ns == mtime_first
    log = Path(steps["first"].log_path).read_text()
    assert log.count("--- attempt") == 1
    assert steps["third"].metrics == {"final": 11.0}
    assert store.get_run(run_id).status == "succeeded"


# -- 9. MLflow ----------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.filterwarnings("ignore:MLflow tracking is off")
def test_a_tracked_run_is_in_mlflow_and_an_unreachable_server_only_warns(
    write_nb, tmp_path, capsys, monkeypatch
):
    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    notebook = write_nb([
        code("C = 1.0\nmax_iter = 100", "parameters"),
        code("from sklearn.linear_model import LogisticRegression", "imports"),
        code("X = [[0.0, 1.0], [1.0, 0.5], [2.0, 0.0], [3.0, 1.0], [4.0, 0.5], [5.0, 0.0]]\n"
             "y = [0, 0, 0, 1, 1, 1]", "step:data"),
        code("clf = LogisticRegression(C=C, max_iter=max_iter).fit(X, y)", "step:train",
             "model:clf"),
        code("accuracy = clf.score(X, y)", "step:evaluate"),
        code("accuracy", "metrics"),
    ], name="tracked.ipynb")

    status, out, err = cli(capsys, "run", str(notebook), "-p", "C=0.5")
    assert status == 0, out + err
    assert "warning" not in (out + err).lower()
    store = RunStore(tmp_path / ".liminal")
    record = store.list_runs(limit=1)[0]

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/.liminal/mlflow.db")
    experiments = [e.experiment_id for e in client.search_experiments()]
    (parent,) = client.search_runs(experiments,
                                   filter_string=f"tags.`liminal.run_id` = '{record.run_id}'")
    assert parent.info.run_id == record.tracking_run_id
    assert parent.info.status == "FINISHED"
    assert parent.data.params == {"C": "0.5", "max_iter": "100"}
    assert parent.data.metrics["accuracy"] == 1.0
    nested = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    steps = {r.info.run_name: r for r in nested}
    assert set(steps) == {"data", "train", "evaluate"}
    assert all(r.data.metrics["duration_s"] > 0 for r in steps.values())
    assert steps["evaluate"].data.metrics["accuracy"] == 1.0
    models = client.search_logged_models(experiment_ids=[parent.info.experiment_id])
    assert [(m.name, m.source_run_id) for m in models] == [("clf", steps["train"].info.run_id)]

    tiny = write_nb([code("n = 2", "step:only")], name="tiny.ipynb")
    status, out, err = cli(capsys, "run", str(tiny),
                           "--tracking-uri", f"http://127.0.0.1:{_closed_port()}")
    assert status == 0, out + err
    assert "tracking is off" in err or "tracking: off" in out
    assert store.list_runs(notebook=tiny, limit=1)[0].status == "succeeded"


def test_a_tracking_failure_is_a_warning_event_in_json_and_in_the_runs_record(
    write_nb, tmp_path, capsys, monkeypatch
):
    """`--json` consumers and the panel (which reads the run's record) see why tracking
    is off; the run itself succeeds."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    notebook = write_nb([code("n = 2", "step:only")], name="warned.ipynb")
    port = _closed_port()
    status, out, err = cli(capsys, "run", str(notebook), "--json",
                           "--tracking-uri", f"http://127.0.0.1:{port}")
    assert status == 0, out + err
    events = [json.loads(line) for line in out.splitlines()]
    warnings = [e for e in events if e["event"] == "warning"]
    assert len(warnings) == 1, events
    assert f"127.0.0.1:{port} is not reachable" in warnings[0]["text"]
    assert "MLflow tracking is off for this run" in warnings[0]["text"]
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "succeeded"
    assert "is not reachable" in events[-1]["message"]
    assert "warning" not in err  # said once, in the event stream, not also on stderr
    record = RunStore(tmp_path / ".liminal").list_runs(limit=1)[0]
    assert record.status == "succeeded"
    assert record.message.startswith("1 succeeded; warning: MLflow tracking is off")
