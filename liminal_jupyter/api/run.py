"""A handle on one run: its state, metrics and outputs, read from the run store as it goes.

The run itself happens in another process (`liminal-nb run`, started by `launch_run`), so
the handle holds nothing but the run id and where its records are: every property reads the
store afresh. That is why a handle works the same for a run started a moment ago, one
started from a terminal yesterday, or one whose runner died (the store says 'interrupted').
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.store import RunRecord, RunStore, StepRecord, StoreError

REMOTE_POLL_S = 2.0

POLL_SECONDS = 0.25


@dataclass(frozen=True)
class RunSnapshot:
    """The run and its steps as read at one moment (what a view draws)."""

    run: RunRecord
    steps: list[StepRecord]

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics the steps had logged at that moment, name -> value."""
        return _metrics(self.steps)


class Run:
    """One run of a notebook pipeline, local or submitted, identified by its run id.

    Get one from `Pipeline.run()` (a run just started) or `Pipeline.get_run(run_id)`.
    """

    def __init__(
        self,
        run_id: str,
        notebook: str | os.PathLike[str],
        *,
        store: RunStore | None = None,
        process: subprocess.Popen[bytes] | None = None,
    ) -> None:
        from liminal_jupyter.runs.launch import run_store_for

        self.notebook = Path(notebook).resolve()
        self.store = store or run_store_for(self.notebook)
        self.run_id = self.store.get_run(run_id).run_id  # a unique prefix is enough
        self._process = process  # the runner, when this process started it
        self._asked = float("-inf")  # when a submitted run's host was last asked
        self._finish_callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # -- state ------------------------------------------------------------------------------
    @property
    def record(self) -> RunRecord:
        """The run's record now: status, times, parameters set, message."""
        self._reap()
        return self.store.get_run(self.run_id)

    @property
    def status(self) -> str:
        """'running', 'succeeded', 'failed', 'cancelled' or 'interrupted' (runner died)."""
        return self.record.status

    @property
    def finished(self) -> bool:
        """Whether the run has ended, whatever the outcome."""
        return self.record.finished

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameter values set for this run (the notebook's defaults are not listed)."""
        return dict(self.record.parameters)

    @property
    def steps(self) -> dict[str, str]:
        """Each step's state, in run order: waiting, running, succeeded, cached, failed,
        skipped or interrupted."""
        return {s.step: s.status for s in self.step_records()}

    def step_records(self) -> list[StepRecord]:
        """Each step's full record: times, attempt, outputs, metrics, error, log path."""
        self._reap()
        return self.store.steps(self.run_id)

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics logged so far by the steps (`metrics` cells), name -> value."""
        return _metrics(self.step_records())

    def snapshot(self) -> RunSnapshot:
        """The run and its steps, read together (for views that draw both)."""
        self._reap()
        return RunSnapshot(self.store.get_run(self.run_id), self.store.steps(self.run_id))

    # -- control ----------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run ends (or `timeout` seconds pass: TimeoutError); returns self.

        A run's end does not raise: check `status` (a failed step's message is in
        `error(step)`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {self.run_id} is still {self.status} after "
                                   f"{timeout:g} s")
            time.sleep(POLL_SECONDS)
        if self._process is not None:
            try:
                self._process.wait(timeout=30)  # it records its end, then exits
            except subprocess.TimeoutExpired:
                pass
        self._finished()
        return self

    def cancel(self) -> bool:
        """Stop the run: finished steps are kept, running ones are stopped, and the run is
        recorded 'cancelled'. False when it was not running any more."""
        from liminal_jupyter.engines.registry import engines

        engine = engines().get(self.store.get_run(self.run_id).backend)
        return bool(engine and engine.capabilities.cancel
                    and engine.cancel(self.store, self.run_id))

    def on_finish(self, callback: Callable[[], None]) -> None:
        """Call `callback()` once `wait()` has seen the end (views use it for a last draw)."""
        with self._lock:
            self._finish_callbacks.append(callback)

    # -- results ----------------------------------------------------------------------------
    def outputs(self, step: str) -> dict[str, Any]:
        """The values a step passed on to later steps, loaded back: variable -> value.

        A file changed since it was saved is reported (MarshalError), not loaded.
        """
        record = self.store.get_step(self.run_id, step)
        return {name: self._load_saved(saved) for name, saved in record.outputs.items()}

    def load(self, variable: str, step: str | None = None) -> Any:
        """One value a step kept (passed on, a model, or kept for after the run: see
        docs/tags.md, keep:all), loaded back into this kernel.

        step: the step that produced it; by default the last step, in run order, that
        recorded an output of that name.
        """
        records = self.step_records()
        if step is not None:
            records = [r for r in records if r.step == step]
            if not records:
                raise KeyError(f"run {self.run_id} has no step {step!r}; its steps are: "
                               f"{', '.join(self.steps)}")
        for record in reversed(records):
            if variable in record.outputs:
                return self._load_saved(record.outputs[variable])
        from liminal_jupyter.runs.values import ValueNotFound, find_saved

        try:  # an engine that keeps its values only in step manifests (kfp-local)
            return self._load_saved(find_saved(self.store, self.run_id, variable, step)[1])
        except ValueNotFound:
            pass
        saved = sorted({name for r in self.step_records() for name in r.outputs})
        where = f"step {step!r}" if step else "any step"
        raise KeyError(
            f"{where} of run {self.run_id} has no saved output {variable!r}. A run keeps what "
            f"later steps read, models, metric variables and what a leaf step defines; tag a "
            f"step keep:all to keep every value it defines (`liminal-nb show "
            f"{self.run_id}` says what was not kept and why); saved here: "
            f"{', '.join(saved) or 'none'}."
        )

    def log(self, step: str, tail: int | None = None) -> str:
        """What the step's cells printed (papermill's log); the last `tail` lines if given."""
        record = self.store.get_step(self.run_id, step)
        path = Path(record.log_path) if record.log_path else None
        if path is None or not path.is_file():
            return ""
        text = path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-tail:]) if tail else text

    def error(self, step: str) -> str | None:
        """Why the step failed (cell, error, traceback), or None if it did not fail."""
        from liminal_jupyter.step.execute import render_error

        record = self.store.get_step(self.run_id, step)
        return render_error(record.error, record.step) if record.error else None

    # -- showing ----------------------------------------------------------------------------
    def view(self) -> Any:
        """A live ipywidgets view of this run (see liminal_jupyter.widgets.RunView)."""
        from liminal_jupyter.widgets.run_view import RunView

        return RunView(self)

    def show(self) -> Any:
        """Display the live view in the notebook and return it."""
        from IPython.display import display

        view = self.view()
        display(view)
        return view

    def __repr__(self) -> str:
        try:
            snapshot = self.snapshot()
        except StoreError as exc:
            return f"<Run {self.run_id}: {exc}>"
        metrics = ", ".join(f"{k}={_number(v)}" for k, v in snapshot.metrics.items())
        return (f"<Run {self.run_id} {snapshot.run.status} ({snapshot.run.pipeline_name})"
                + (f" {metrics}" if metrics else "") + ">")

    # -- plumbing ---------------------------------------------------------------------------
    def _load_saved(self, saved: dict[str, Any] | list[dict[str, Any]]) -> Any:
        from liminal_jupyter.step.marshal import load_value

        if isinstance(saved, list):  # a fan-out step's output: a list, in element order
            return [self._load_saved(one) for one in saved]
        data = dict(saved)
        if not Path(data["path"]).is_absolute():  # as the store does: next to the notebook
            data["path"] = str(self.store.root.parent / data["path"])
        return load_value(data)

    def _reap(self) -> None:
        """Collect our finished runner so it is not left a zombie; a run submitted to a
        host (KFP, Airflow) is asked for its state instead, at most every REMOTE_POLL_S,
        and the runs ledger keeps what it said."""
        if self._process is not None:
            self._process.poll()
            return
        now = time.monotonic()
        if now - self._asked < REMOTE_POLL_S:
            return
        self._asked = now
        record = self.store.get_run(self.run_id)
        if record.finished or not record.remote_id or "://" not in (record.host or ""):
            return
        from liminal_jupyter.engines.registry import engines

        engine = engines().get(record.backend)
        if engine is not None and engine.capabilities.submit:
            engine.status(self.store, self.run_id)  # type: ignore[attr-defined]

    def _finished(self) -> None:
        with self._lock:
            callbacks, self._finish_callbacks = self._finish_callbacks, []
        for callback in callbacks:
            callback()


def _metrics(steps: list[StepRecord]) -> dict[str, Any]:
    return {k: v for record in steps for k, v in (record.metrics or {}).items()}


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)
