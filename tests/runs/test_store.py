"""The run store: what a run records, and what `runs`, `show`, `logs` and `--resume` read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from liminal_jupyter.runs import store as store_module
from liminal_jupyter.runs.store import (
    RunNotFound,
    RunStillRunning,
    RunStore,
    StoreError,
    write_json,
)
from liminal_jupyter.step.marshal import save_value

HAVE_PROC = Path("/proc/self/stat").exists()


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / ".liminal")


def new_run(store: RunStore, steps=("load", "train", "evaluate"), **extra) -> str:
    run_id = store.new_run_id()
    store.create_run(run_id, "nb.ipynb", "demo", "local", {"lr": 0.1}, list(steps), **extra)
    return run_id


def save_output(store: RunStore, run_id: str, step: str, name: str, value) -> dict:
    """Save a value as the step would, and record the step as succeeded with it."""
    saved = save_value(name, value, store.step_dir(run_id, step) / "artifacts").to_dict()
    store.update_step(run_id, step, status="succeeded", outputs={name: saved})
    return saved


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


# -- creating, listing, finding ---------------------------------------------------------


def test_a_new_run_is_running_with_all_its_steps_waiting(store):
    run_id = new_run(store)

    run = store.get_run(run_id)
    assert run.status == "running"
    assert run.runner_pid == os.getpid()
    assert run.parameters == {"lr": 0.1}
    assert run.backend == "local"
    assert [(s.step, s.status) for s in store.steps(run_id)] == [
        ("load", "waiting"), ("train", "waiting"), ("evaluate", "waiting")
    ]
    assert (store.root / "runs.db").is_file()
    assert store.step_dir(run_id, "train").is_dir()
    assert json.loads(json.dumps(run.to_json()))["run_id"] == run_id


def test_the_index_uses_wal_and_records_its_schema_version(store):
    new_run(store)
    import sqlite3

    conn = sqlite3.connect(store.root / "runs.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
    finally:
        conn.close()


def test_run_ids_sort_by_time_and_are_unique(store):
    ids = [store.new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(i) == len("20261126-123456-ab12") for i in ids)
    assert [i[:15] for i in ids] == sorted(i[:15] for i in ids)


def test_runs_are_listed_newest_first_and_by_notebook(store, tmp_path):
    first = new_run(store)
    second = new_run(store)
    other = store.new_run_id()
    store.create_run(other, tmp_path / "other.ipynb", "o", "local", {}, ["a"])

    assert [r.run_id for r in store.list_runs()] == [other, second, first]
    assert [r.run_id for r in store.list_runs(limit=1)] == [other]
    # A notebook in the store's folder is the same notebook however its path is written.
    assert [r.run_id for r in store.list_runs(notebook=tmp_path / "other.ipynb")] == [other]
    assert [r.run_id for r in store.list_runs(notebook="other.ipynb")] == [other]
    assert [r.run_id for r in store.list_runs(notebook=tmp_path / "nb.ipynb")] == [second, first]
    assert store.get_run(other).notebook == "other.ipynb"


def test_a_run_is_found_by_a_unique_prefix_of_its_id(store):
    store.create_run("20260101-000000-aaaa", "nb.ipynb", "demo", "local", {}, ["a"])
    store.create_run("20260101-000000-abcd", "nb.ipynb", "demo", "local", {}, ["a"])

    assert store.get_run("20260101-000000-aa").run_id == "20260101-000000-aaaa"
    assert [s.step for s in store.steps("20260101-000000-ab")] == ["a"]


def test_an_ambiguous_prefix_names_the_runs_it_matches(store):
    store.create_run("20260101-000000-aaaa", "nb.ipynb", "demo", "local", {}, ["a"])
    store.create_run("20260101-000000-abcd", "nb.ipynb", "demo", "local", {}, ["a"])

    with pytest.raises(RunNotFound) as err:
        store.get_run("20260101-000000-a")
    assert "ambiguous" in str(err.value)
    assert "20260101-000000-aaaa" in str(err.value) and "20260101-000000-abcd" in str(err.value)


def test_an_unknown_run_id_lists_the_latest_runs(store):
    with pytest.raises(RunNotFound, match="no runs yet"):
        store.get_run("nope")
    ids = [new_run(store) for _ in range(7)]

    with pytest.raises(RunNotFound) as err:
        store.get_run("nope")
    message = str(err.value)
    assert "'nope'" in message and "liminal-nb runs" in message
    assert all(i in message for i in ids[-5:]) and ids[0] not in message


def test_updates_are_checked_and_recorded(store):
    run_id = new_run(store)
    store.update_run(run_id, tracking_run_id="mlflow-1", remote_id="kfp-9")
    store.update_step(run_id, "train", status="running", attempt=1, started=1.0)
    store.update_step(run_id, "train", status="failed", error={"ename": "ValueError"})

    assert store.get_run(run_id).tracking_run_id == "mlflow-1"
    train = store.get_step(run_id, "train")
    assert (train.status, train.attempt, train.error) == ("failed", 1, {"ename": "ValueError"})
    with pytest.raises(ValueError, match="not a step status"):
        store.update_step(run_id, "train", status="done")
    with pytest.raises(TypeError, match="colour"):
        store.update_run(run_id, colour="red")
    with pytest.raises(StoreError, match="no step 'deploy'"):
        store.update_step(run_id, "deploy", status="running")
    with pytest.raises(RunNotFound):
        store.update_run("20990101-000000-ffff", status="failed")


def test_finishing_a_failed_run_marks_the_steps_that_never_ran_as_skipped(store):
    run_id = new_run(store)
    store.update_step(run_id, "load", status="failed")
    store.finish_run(run_id, "failed", "step load failed")

    run = store.get_run(run_id)
    assert (run.status, run.message) == ("failed", "step load failed")
    assert run.ended is not None
    assert [s.status for s in store.steps(run_id)] == ["failed", "skipped", "skipped"]
    with pytest.raises(ValueError):
        store.finish_run(run_id, "running")


def test_names_that_would_escape_the_run_folder_are_refused(store):
    with pytest.raises(ValueError, match="cannot name a folder"):
        store.step_dir("20260101-000000-aaaa", "../etc")
    with pytest.raises(ValueError, match="cannot name a folder"):
        store.run_dir("..")


# -- two runs at once -------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from liminal_jupyter.runs.store import RunStore

    store = RunStore(sys.argv[1])
    for i in range(15):
        run_id = store.new_run_id()
        store.create_run(run_id, "nb.ipynb", "demo", "local", {"i": i}, ["a", "b"])
        store.update_step(run_id, "a", status="running")
        store.update_step(run_id, "a", status="succeeded", metrics={"i": i})
        store.list_runs()
        store.finish_run(run_id, "succeeded")
    """
)


def test_two_processes_can_write_to_one_store_at_once(store):
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(store.root)], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    errors = [w.communicate(timeout=120)[1].decode() for w in writers]

    assert [w.returncode for w in writers] == [0, 0], errors
    runs = store.list_runs(limit=100)
    assert len(runs) == 30
    assert {r.status for r in runs} == {"succeeded"}


# -- interrupted runs -------------------------------------------------------------------


def test_a_run_whose_runner_was_killed_is_reported_interrupted(store):
    runner = sleeper()
    try:
        run_id = new_run(store, runner_pid=runner.pid)
        store.update_step(run_id, "load", status="succeeded")
        store.update_step(run_id, "train", status="running")
        assert store.get_run(run_id).status == "running"

        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)

        [run] = store.list_runs()
        assert run.status == "interrupted"
        assert "killed or crashed" in run.message
        # ...and it is recorded, not only reported.
        assert [s.status for s in store.steps(run_id)] == [
            "succeeded", "interrupted", "interrupted"
        ]
    finally:
        runner.kill()
        runner.wait()


def test_a_run_of_a_living_runner_stays_running(store):
    run_id = new_run(store)  # this process is the runner

    assert store.list_runs()[0].status == "running"
    assert store.get_run(run_id).status == "running"


@pytest.mark.skipif(not HAVE_PROC, reason="needs /proc")
def test_a_killed_runner_not_yet_reaped_by_its_parent_counts_as_gone(store):
    runner = sleeper()
    try:
        run_id = new_run(store, runner_pid=runner.pid)
        runner.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while store_module._proc_stat(runner.pid)[0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)

        assert store.get_run(run_id).status == "interrupted"
    finally:
        runner.kill()
        runner.wait()


@pytest.mark.skipif(not HAVE_PROC, reason="needs /proc")
def test_a_pid_reused_by_another_process_does_not_keep_a_run_running(store):
    # This process is alive, but it is not the process that started the run.
    run_id = new_run(store, runner_start_time=store_module.process_start_time(os.getpid()) - 1)

    assert store.get_run(run_id).status == "interrupted"


def test_a_run_not_tied_to_a_local_process_is_left_alone(store):
    run_id = store.new_run_id()
    store.create_run(run_id, "nb.ipynb", "demo", "kfp", {}, ["a"], runner_pid=None)

    assert store.get_run(run_id).status == "running"


# -- resuming ---------------------------------------------------------------------------


def finished_run_with_outputs(store: RunStore) -> tuple[str, dict, dict]:
    run_id = new_run(store)
    data = save_output(store, run_id, "load", "data", [1, 2, 3])
    model = save_output(store, run_id, "train", "model", {"w": 0.5})
    store.update_step(run_id, "evaluate", status="failed")
    store.finish_run(run_id, "failed")
    return run_id, data, model


def test_resume_reuses_intact_steps_and_reruns_the_rest(store):
    run_id, _, _ = finished_run_with_outputs(store)

    reusable, to_run = store.resume_plan(run_id)

    assert sorted(reusable) == ["load", "train"]
    assert to_run == ["evaluate"]


def test_resume_reruns_a_step_whose_artifact_was_deleted(store):
    run_id, _, model = finished_run_with_outputs(store)
    Path(model["path"]).unlink()

    reusable, to_run = store.resume_plan(run_id)

    assert list(reusable) == ["load"]
    assert to_run == ["train", "evaluate"]


def test_resume_reruns_a_step_whose_artifact_changed(store):
    run_id, data, _ = finished_run_with_outputs(store)
    Path(data["path"]).write_text("[1, 2, 4]")  # same size, other content

    reusable, to_run = store.resume_plan(run_id)

    assert list(reusable) == ["train"]
    assert to_run == ["load", "evaluate"]


def test_resume_reruns_steps_of_an_interrupted_run(store):
    runner = sleeper()
    try:
        run_id = new_run(store, runner_pid=runner.pid)
        save_output(store, run_id, "load", "data", [1])
        store.update_step(run_id, "train", status="running")
    finally:
        runner.kill()
        runner.wait()

    reusable, to_run = store.resume_plan(run_id)

    assert list(reusable) == ["load"]
    assert to_run == ["train", "evaluate"]


def test_given_the_pipeline_resume_also_reruns_what_depends_on_a_rerun(store, parse):
    from conftest import code

    pipeline = parse([
        code("data = [1, 2, 3]", "step:load"),
        code("model = sum(data)", "step:train"),
        code("score = model * 2", "step:evaluate"),
    ])
    run_id, data, _ = finished_run_with_outputs(store)
    Path(data["path"]).unlink()

    reusable, to_run = store.resume_plan(run_id, pipeline)

    assert reusable == {}
    assert to_run == ["load", "train", "evaluate"]


def test_a_running_run_cannot_be_resumed(store):
    run_id = new_run(store)
    with pytest.raises(RunStillRunning, match="still running"):
        store.resume_plan(run_id)


# -- atomic files -----------------------------------------------------------------------


def test_write_json_replaces_the_file_whole(tmp_path):
    path = tmp_path / "run" / "result.json"
    write_json(path, {"status": "running"})
    write_json(path, {"status": "succeeded"})

    assert json.loads(path.read_text()) == {"status": "succeeded"}
    assert os.listdir(path.parent) == ["result.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    write_json(path, {"status": "running"})

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_json(path, {"status": "succeeded"})

    assert json.loads(path.read_text()) == {"status": "running"}
    assert os.listdir(tmp_path) == ["result.json"]
