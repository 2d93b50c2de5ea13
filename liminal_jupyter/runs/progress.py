"""How a run shows its progress: a live table on a terminal, JSON lines for scripts, or quiet.

The runner only emits events (a step changed state); each reporter decides what a person or
a program sees. rich draws the live view and is imported only when one is shown.

A `warning` is a failure the run tolerates and goes on from (MLflow tracking that is off or
lost a step, a warm kernel that did not start): never silent, never fatal. Consumers of the
JSON lines must ignore events they do not know, so new kinds can be added.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

STATE_STYLE = {
    "waiting": "dim",
    "running": "bold cyan",
    "cached": "blue",
    "succeeded": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "interrupted": "magenta",
}


class Reporter:
    """The events a runner emits; the base class shows nothing."""

    def run_started(self, run_id: str, pipeline: str, steps: list[str]) -> None: ...

    def step_state(self, step: str, state: str, duration: float | None = None,
                   detail: str | None = None) -> None: ...

    def message(self, text: str) -> None: ...

    def warning(self, text: str) -> None:
        """Something failed and the run goes on; `text` says what and why. A reporter that
        shows messages but knows no warnings still shows it, as a message."""
        self.message(f"warning: {text}")

    def run_finished(self, status: str, summary: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonReporter(Reporter):
    """One JSON object a line on stdout, for scripts and the server."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()

    def _emit(self, event: str, **data: Any) -> None:
        with self.lock:
            self.stream.write(json.dumps({"event": event, "time": time.time(), **data}) + "\n")
            self.stream.flush()

    def run_started(self, run_id, pipeline, steps):
        self._emit("run_started", run_id=run_id, pipeline=pipeline, steps=steps)

    def step_state(self, step, state, duration=None, detail=None):
        self._emit("step", step=step, state=state, duration=duration, detail=detail)

    def message(self, text):
        self._emit("message", text=text)

    def warning(self, text):
        self._emit("warning", text=text)

    def run_finished(self, status, summary):
        self._emit("run_finished", status=status, **summary)


class QuietReporter(Reporter):
    """Only what went wrong, on stderr."""

    def message(self, text):
        print(text, file=sys.stderr)

    def warning(self, text):
        print(f"warning: {text}", file=sys.stderr)

    def step_state(self, step, state, duration=None, detail=None):
        if state == "failed" and detail:
            print(detail, file=sys.stderr)


class LineReporter(Reporter):
    """A line per change, for logs and terminals without a live view (CI)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()

    def _print(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def run_started(self, run_id, pipeline, steps):
        self._print(f"run {run_id} of {pipeline}: {len(steps)} steps")

    def step_state(self, step, state, duration=None, detail=None):
        took = f" in {duration:.1f}s" if duration is not None else ""
        self._print(f"  {step}: {state}{took}")
        if detail and state == "failed":
            self._print(detail)

    def message(self, text):
        self._print(text)

    def warning(self, text):
        self._print(f"warning: {text}")


class LiveReporter(Reporter):
    """A table of steps that updates in place: state, duration, a ticking clock for running."""

    def __init__(self):
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.states: dict[str, tuple[str, float | None, float]] = {}
        self.order: list[str] = []
        self.title = ""
        self.lock = threading.Lock()
        self.failures: list[str] = []
        self.live = Live(console=self.console, refresh_per_second=4, get_renderable=self._table,
                         transient=False)

    def run_started(self, run_id, pipeline, steps):
        self.title = f"{pipeline}  run {run_id}"
        self.order = list(steps)
        self.states = {s: ("waiting", None, time.monotonic()) for s in steps}
        self.live.start()

    def step_state(self, step, state, duration=None, detail=None):
        with self.lock:
            self.states[step] = (state, duration, time.monotonic())
            if detail and state == "failed":
                self.failures.append(detail)

    def message(self, text):
        self.console.print(text)

    def warning(self, text):
        self.console.print(f"warning: {text}", style="yellow", highlight=False, markup=False)

    def _table(self):
        from rich.table import Table

        table = Table(title=self.title, title_justify="left", show_edge=False)
        table.add_column("step")
        table.add_column("state")
        table.add_column("time", justify="right")
        with self.lock:
            for step in self.order:
                state, duration, since = self.states[step]
                if duration is None and state == "running":
                    duration = time.monotonic() - since
                took = f"{duration:.1f}s" if duration is not None else ""
                table.add_row(step, f"[{STATE_STYLE.get(state, '')}]{state}[/]", took)
        return table

    def close(self):
        self.live.stop()
        for failure in self.failures:
            self.console.print(failure, style="red", highlight=False, markup=False)


def make_reporter(mode: str) -> Reporter:
    """'auto' is a live table on a terminal and a line per change otherwise."""
    if mode == "json":
        return JsonReporter()
    if mode == "quiet":
        return QuietReporter()
    if mode == "auto" and sys.stderr.isatty():
        return LiveReporter()
    return LineReporter()
