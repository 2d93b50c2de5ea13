"""A full disk under the run folder (issue 20): a clear error, nothing half-written trusted.

The run folder (.liminal/, where the index, executed notebooks and artifacts go) is a real
2 MiB tmpfs mounted for the test (`mount -t tmpfs -o size=2m`: the tests run as root here);
a machine where mount is refused skips these tests with that reason. After the failure the
tmpfs is grown (`mount -o remount,size=...`) or the filler removed, and `--resume` must
complete from intact artifacts only.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from liminal_jupyter.runs.store import RunStore
from tests.conftest import code
from tests.reliability.kill_sweep import leftovers

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))


@pytest.fixture
def small_disk(tmp_path):
    """tmp_path/.liminal on a 2 MiB tmpfs; yields a function that resizes it."""
    folder = tmp_path / ".liminal"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")

    def resize(size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)

    try:
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def liminal_nb(notebook: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIMINAL_NB, *args], cwd=notebook.parent, capture_output=True,
                          text=True, timeout=180)


def no_temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def intact(store: RunStore, run_id: str) -> None:
    with sqlite3.connect(store.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    for record in store.steps(run_id):
        if record.status in ("succeeded", "cached"):
            assert store.artifact_problems(record) == [], record


def test_an_artifact_that_does_not_fit_fails_its_step_and_resume_redoes_only_it(
    write_nb, tmp_path, small_disk
):
    notebook = write_nb([
        code("import os", "imports"),
        code("a = bytes(300_000)", "step:small"),
        code("b = os.urandom(3_000_000)", "step:big"),
        code("c = len(a) + len(b)", "step:after"),
        code("c", "metrics"),
    ])
    done = liminal_nb(notebook, "run", str(notebook), "--no-tracking")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "step 'big' failed while saving its outputs" in done.stderr
    assert "No space left on device" in done.stderr
    assert "Traceback (most recent call last)" not in done.stdout + done.stderr
    store = RunStore(tmp_path / ".liminal")
    run_id = store.list_runs(limit=1)[0].run_id
    steps = {r.step: r for r in store.steps(run_id)}
    assert {n: r.status for n, r in steps.items()} == {
        "small": "succeeded", "big": "failed", "after": "skipped"}
    assert steps["big"].outputs == {}
    assert no_temporaries(tmp_path / ".liminal") == []
    intact(store, run_id)
    small = steps["small"]

    small_disk("20m")
    done = liminal_nb(notebook, "run", str(notebook), "--no-tracking", "--resume", run_id)

    assert done.returncode == 0, done.stdout + done.stderr
    steps = {r.step: r for r in store.steps(run_id)}
    assert steps["small"] == small  # reused, not run again
    assert steps["after"].metrics == {"c": 3_300_000.0}
    intact(store, run_id)


FILL = ("if not os.path.exists('filled'):\n"
        "    open('filled', 'w').close()\n"
        "    with open('.liminal/filler', 'wb') as f:\n"
        "        try:\n"
        "            while True:\n"
        "                f.write(bytes(65536))\n"
        "                f.flush()\n"
        "        except OSError:\n"
        "            pass\n"
        "b = 2")


def test_a_disk_filled_mid_run_is_a_clear_error_and_resume_completes_once_freed(
    write_nb, tmp_path, small_disk
):
    notebook = write_nb([
        code("import os", "imports"),
        code("a = bytes(300_000)", "step:small"),
        code(FILL, "step:fill"),  # something else fills the disk while the run goes on
        code("c = len(a) + b", "step:after"),
        code("c", "metrics"),
    ])
    done = liminal_nb(notebook, "run", str(notebook), "--no-tracking")

    said = done.stdout + done.stderr
    assert done.returncode != 0, said
    assert "Traceback (most recent call last)" not in said
    assert "is full" in done.stderr and "--resume" in done.stderr, said
    assert leftovers(tmp_path) == []

    listed = liminal_nb(notebook, "runs", str(tmp_path))  # still full
    assert "Traceback (most recent call last)" not in listed.stderr, listed.stderr
    assert listed.returncode == 0 or "is full" in listed.stderr, listed.stderr

    (tmp_path / ".liminal" / "filler").unlink()
    store = RunStore(tmp_path / ".liminal")
    run = store.list_runs(limit=1)[0]
    assert run.status in ("interrupted", "failed")
    intact(store, run.run_id)
    assert no_temporaries(tmp_path / ".liminal") == []

    done = liminal_nb(notebook, "run", str(notebook), "--no-tracking", "--resume", run.run_id)

    assert done.returncode == 0, done.stdout + done.stderr
    steps = {r.step: r for r in store.steps(run.run_id)}
    assert {n: r.status for n, r in steps.items()} == {
        "small": "succeeded", "fill": "succeeded", "after": "succeeded"}
    assert steps["after"].metrics == {"c": 300_002.0}
    intact(store, run.run_id)
    assert os.path.exists(tmp_path / "filled")
