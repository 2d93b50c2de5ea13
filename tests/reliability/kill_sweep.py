"""The SIGKILL sweep (issue 20): `liminal-nb run` killed at seeded random moments, each kill
followed by `liminal-nb run --resume RUN` until the run completes.

Shared by the fixed-seed profile in the suite (tests/reliability/test_kill_resume.py) and the
long profile (stress/kill_resume.py). Everything is real: the CLI in its own process group,
kernels, the SQLite store. A trial:

1. starts `liminal-nb run NB --no-tracking` with `start_new_session=True` in a fresh folder,
2. sends SIGKILL to the runner's whole process group `kill_at` seconds later (its kernels
   run in process groups of their own, as a runner killed by the OOM killer or a closed
   terminal leaves them: they must notice and exit by themselves),
3. checks the store as the kill left it: `PRAGMA integrity_check` is ok, the run reads as
   'interrupted', and no step recorded as succeeded has an artifact failing its hash,
4. runs `liminal-nb run NB --no-tracking --resume RUN` until the run succeeds (a fresh run if
   the kill came before any run was recorded),
5. checks the result: the same outputs (sha256 of every saved value) and metrics as an
   uninterrupted run, integrity ok, every artifact intact, every step's inputs.json naming
   exactly the artifacts its producers recorded, and no process left in the trial's folder.

A trial returns its problems as text; an empty list is a pass.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.store import RunStore
from tests.conftest import code, notebook_json

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))
RUN_TIMEOUT = 180.0  # seconds for one run or resume; the machine is shared
MAX_RESUMES = 3

# Five steps, a fork and a join: load -> square -> total -> report, load -> stats -> report.
# The short sleeps spread each step over a moment a kill can land in; the values are all
# deterministic, so an interrupted-then-resumed run must save byte-identical artifacts.
FIVE_STEPS = [
    code("import time", "imports"),
    code("time.sleep(0.3)\ndata = list(range(200))", "step:load"),
    code("time.sleep(0.3)\nsquares = [x * x for x in data]", "step:square"),
    code("time.sleep(0.3)\nmean = sum(data) / len(data)", "step:stats"),
    code("time.sleep(0.3)\ntotal = sum(squares)", "step:total"),
    code("time.sleep(0.3)\nsummary = {'total': total, 'mean': mean}\nscore = total / mean",
         "step:report"),
    code("score", "metrics"),
]


def write_notebook(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / "five.ipynb"
    notebook.write_text(json.dumps(notebook_json(FIVE_STEPS)))
    return notebook


@dataclass
class Outcome:
    """What a completed run produced: {step: {value name: sha256}} and {step: metrics}."""

    hashes: dict[str, dict[str, str]]
    metrics: dict[str, dict[str, Any]]


@dataclass
class Trial:
    kill_at: float
    run_id: str | None = None
    at_kill: dict[str, str] = field(default_factory=dict)  # step -> status after the kill
    resumes: int = 0
    ended_first: bool = False  # the run was over before the kill came
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def phase(self) -> str:
        """Where the kill landed, for the sweep's tally."""
        if self.ended_first:
            return "after the run ended"
        if not self.at_kill:
            return "before the run was recorded"
        done = sum(s in ("succeeded", "cached") for s in self.at_kill.values())
        return f"after {done} of {len(self.at_kill)} steps"


def run_cli(notebook: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIMINAL_NB, "run", str(notebook), "--no-tracking", *extra],
                          cwd=notebook.parent, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, start_new_session=True)


def reference(folder: Path) -> tuple[Outcome, float]:
    """An uninterrupted run: its outcome and how long the runner took (the kill window)."""
    notebook = write_notebook(folder)
    started = time.monotonic()
    done = run_cli(notebook)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise AssertionError(f"the uninterrupted run failed:\n{done.stdout}\n{done.stderr}")
    store = RunStore(folder / ".liminal")
    return outcome(store, store.list_runs(limit=1)[0].run_id), seconds


def outcome(store: RunStore, run_id: str) -> Outcome:
    steps = store.steps(run_id)
    return Outcome({r.step: {n: s["sha256"] for n, s in r.outputs.items()} for r in steps},
                   {r.step: r.metrics for r in steps})


def kill_moments(seed: int, count: int, window: float) -> list[float]:
    """`count` seeded moments in (0, window): the same seed gives the same sweep."""
    rng = random.Random(seed)
    return [round(rng.uniform(0.05, window), 3) for _ in range(count)]


def run_trial(folder: Path, kill_at: float, expected: Outcome) -> Trial:
    trial = Trial(kill_at)
    started = time.monotonic()
    notebook = write_notebook(folder)
    store = RunStore(folder / ".liminal")
    runner = subprocess.Popen([LIMINAL_NB, "run", str(notebook), "--no-tracking"],
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        time.sleep(kill_at)
        trial.ended_first = runner.poll() is not None
        os.killpg(runner.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        runner.wait(timeout=30)
    runs = store.list_runs(limit=1) if store.db_path.exists() else []
    if runs:
        trial.run_id = runs[0].run_id
        trial.at_kill = {r.step: r.status for r in store.steps(trial.run_id)}
        trial.problems += after_kill(store, trial.run_id, trial.ended_first)
    trial.problems += complete(notebook, store, trial)
    if trial.run_id is not None and not trial.problems:
        trial.problems += after_completion(store, trial.run_id, expected)
    trial.problems += leftovers(folder)
    trial.seconds = time.monotonic() - started
    return trial


def after_kill(store: RunStore, run_id: str, ended_first: bool) -> list[str]:
    problems = integrity(store)
    run = store.get_run(run_id)  # reading it records the dead runner's end
    # A kill after the runner recorded its end (while it was still exiting) finds the run
    # succeeded; any other kill must leave it interrupted, never 'running'.
    steps = store.steps(run_id)
    all_done = all(r.status in ("succeeded", "cached") for r in steps)
    allowed = ("succeeded",) if ended_first else (
        ("interrupted", "succeeded") if all_done else ("interrupted",))
    if run.status not in allowed:
        problems.append(f"after the kill the run reads as {run.status!r}, not "
                        f"{' or '.join(allowed)} (steps: {[(r.step, r.status) for r in steps]})")
    for record in steps:
        if record.status in ("succeeded", "cached"):
            problems += [f"step {record.step} is recorded {record.status} but {p}"
                         for p in store.artifact_problems(record)]
    return problems


def complete(notebook: Path, store: RunStore, trial: Trial) -> list[str]:
    """Resume (or, with no run recorded, start afresh) until the run succeeds."""
    for _ in range(MAX_RESUMES):
        resume = ("--resume", trial.run_id) if trial.run_id else ()
        done = run_cli(notebook, *resume)
        if not trial.run_id:
            trial.run_id = store.list_runs(limit=1)[0].run_id if store.db_path.exists() else None
        else:
            trial.resumes += 1
        if done.returncode == 0:
            return []
        last = f"exit {done.returncode}: {done.stdout[-800:]} {done.stderr[-800:]}"
    return [f"the run did not complete in {MAX_RESUMES} tries; the last {last}"]


def after_completion(store: RunStore, run_id: str, expected: Outcome) -> list[str]:
    problems = integrity(store)
    run = store.get_run(run_id)
    if run.status != "succeeded":
        problems.append(f"the completed run reads as {run.status!r}")
    got = outcome(store, run_id)
    if got.hashes != expected.hashes:
        problems.append(f"outputs differ from an uninterrupted run: {got.hashes} != "
                        f"{expected.hashes}")
    if got.metrics != expected.metrics:
        problems.append(f"metrics differ: {got.metrics} != {expected.metrics}")
    records = {r.step: r for r in store.steps(run_id)}
    for record in records.values():
        problems += [f"step {record.step}: {p}" for p in store.artifact_problems(record)]
        used = store.step_dir(run_id, record.step) / "inputs.json"
        if record.status == "succeeded" and used.exists():
            for name, saved in json.loads(used.read_text()).items():
                producer = next((r for r in records.values() if name in r.outputs), None)
                if producer is None or producer.outputs[name]["sha256"] != saved["sha256"]:
                    problems.append(f"step {record.step} used {name} at {saved.get('path')}, "
                                    "not the artifact its producer recorded")
    return problems


def integrity(store: RunStore) -> list[str]:
    if not store.db_path.exists():
        return []
    with sqlite3.connect(store.db_path, timeout=30) as conn:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    conn.close()
    return [] if result == ["ok"] else [f"PRAGMA integrity_check: {result}"]


def leftovers(folder: Path, timeout: float = 20.0) -> list[str]:
    """Processes still working in the trial's folder (kernels of the killed runner must
    notice it is gone and exit), waited for up to `timeout` seconds."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        found = []
        for process in psutil.process_iter(["pid", "cwd", "cmdline"]):
            try:
                cwd = process.info["cwd"]
            except psutil.Error:
                continue
            if cwd and Path(cwd) == folder:
                found.append(f"{process.info['pid']} {' '.join(process.info['cmdline'] or [])}")
        if not found or time.monotonic() > deadline:
            return [f"left running in {folder}: {p}" for p in found]
        time.sleep(0.2)
