"""The live view of a run: a row per step with its state, colour and duration, the run's
status and metrics, and the log tail of a failed step.

The run happens in another process; the view only reads the run store. A background
thread in the kernel polls it and sets the widgets' values, which ipywidgets sends to the
browser as they change, so the cell that started the run returns at once while the view
keeps moving. A view of a finished run draws once and starts no thread.
"""

from __future__ import annotations

import html
import re
import threading
import time
from typing import TYPE_CHECKING

import ipywidgets as widgets

from liminal_jupyter.widgets.style import RUN_STATUS_COLOURS, STEP_STATE_COLOURS, duration_text

if TYPE_CHECKING:
    from liminal_jupyter.api.run import Run, RunSnapshot
    from liminal_jupyter.runs.store import StepRecord

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class RunView(widgets.VBox):
    """A run's progress as widgets. `state_labels[step].value` is the step's state.

    Styling hooks for the browser: the view has the CSS class `liminal-run-view`, each
    step row `liminal-step-row`, each state label `liminal-step-state`, the status label
    `liminal-run-status`.
    """

    def __init__(self, run: Run, *, poll_interval: float = 0.5, log_lines: int = 20,
                 watch: bool = True) -> None:
        self.run = run
        self.poll_interval = poll_interval
        self.log_lines = log_lines
        self.title = widgets.HTML()
        self.status_label = widgets.Label()
        self.status_label.add_class("liminal-run-status")
        self.state_labels: dict[str, widgets.Label] = {}
        self.duration_labels: dict[str, widgets.Label] = {}
        self.steps_box = widgets.VBox()
        self.metrics = widgets.HTML()
        self.failure = widgets.HTML()
        self.cancel_button = widgets.Button(description="Cancel", icon="stop",
                                            tooltip="stop the run; finished steps are kept")
        self.cancel_button.on_click(lambda _: self.run.cancel())
        header = widgets.HBox([self.title, self.status_label, self.cancel_button])
        super().__init__([header, self.steps_box, self.metrics, self.failure])
        self.add_class("liminal-run-view")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None  # why the last refresh failed, if it did
        snapshot = self.refresh()
        run.on_finish(self.refresh)
        if watch and not snapshot.run.finished:
            self.start()

    @property
    def status(self) -> str:
        """The run status last drawn."""
        return self.status_label.value

    # -- updating ---------------------------------------------------------------------------
    def refresh(self) -> RunSnapshot:
        """Read the run store once and draw what it says; returns what was read."""
        with self._lock:  # read under the lock too: an older read must never draw last
            snapshot = self.run.snapshot()
            self._draw(snapshot)
        return snapshot

    def start(self) -> None:
        """Poll the run store in a background thread until the run ends."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, daemon=True,
                                            name=f"liminal-view-{self.run.run_id}")
            self._thread.start()

    def stop(self) -> None:
        """Stop polling (the view keeps what it last drew)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the polling thread to end (it ends with the run, or with stop())."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                if self.refresh().run.finished:
                    return
                self.error = None
            except Exception as exc:  # keep polling: the store may be busy for a moment
                self.error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.poll_interval)

    # -- drawing ----------------------------------------------------------------------------
    def _draw(self, snapshot: RunSnapshot) -> None:
        run = snapshot.run
        self.title.value = (f"<b>{html.escape(run.pipeline_name)}</b> run "
                            f"<code>{html.escape(run.run_id)}</code>")
        # Each value set is its own message to the page, sent in order: the metrics and
        # the failure go before the status, so a page that shows 'succeeded' shows them too.
        self.metrics.value = _metrics_html(snapshot.metrics)
        self.failure.value = self._failure_html(snapshot, run.message)
        self.status_label.value = run.status
        self.status_label.style.text_color = RUN_STATUS_COLOURS.get(run.status, "inherit")
        self.status_label.style.font_weight = "bold"
        self.cancel_button.disabled = run.finished
        self.cancel_button.layout.display = "none" if run.finished else None
        if [s.step for s in snapshot.steps] != list(self.state_labels):
            self._build_rows(snapshot.steps)
        now = time.time()
        for record in snapshot.steps:
            label = self.state_labels[record.step]
            label.value = record.status
            label.style.text_color = STEP_STATE_COLOURS.get(record.status, "inherit")
            end = record.ended or (now if record.status == "running" else None)
            took = duration_text(record.started, end)
            if record.cached_from_run:
                took = f"{took} (cached from {record.cached_from_run})"
            self.duration_labels[record.step].value = took

    def _build_rows(self, steps: list[StepRecord]) -> None:
        rows = []
        self.state_labels, self.duration_labels = {}, {}
        for record in steps:
            name = widgets.Label(record.step, layout=widgets.Layout(width="14em"))
            # Classes given at creation travel with the model's first state (comm_open).
            state = widgets.Label(layout=widgets.Layout(width="8em"),
                                  _dom_classes=("liminal-step-state",))
            state.style.font_weight = "bold"
            took = widgets.Label()
            self.state_labels[record.step] = state
            self.duration_labels[record.step] = took
            row = widgets.HBox([name, state, took], _dom_classes=("liminal-step-row",))
            rows.append(row)
        self.steps_box.children = rows

    def _failure_html(self, snapshot: RunSnapshot, message: str | None) -> str:
        parts = []
        for record in snapshot.steps:
            if record.status != "failed":
                continue
            error = self.run.error(record.step) or ""
            log = self.run.log(record.step, tail=self.log_lines)
            parts.append(
                f"<div class='liminal-step-failure'><b>step {html.escape(record.step)} "
                f"failed</b><pre>{_text(error)}</pre>"
                + (f"<details open><summary>last lines of its log</summary>"
                   f"<pre>{_text(log)}</pre></details>" if log.strip() else "")
                + (f"<div>executed notebook, with the error in place: "
                   f"<code>{html.escape(record.executed_notebook)}</code></div>"
                   if record.executed_notebook and record.executed_notebook not in error
                   else "")
                + "</div>"
            )
        if snapshot.run.status in ("interrupted", "cancelled") and message:
            parts.append(f"<div>{html.escape(message)}</div>")
        return "".join(parts)


def _text(text: str) -> str:
    return html.escape(_ANSI.sub("", text))


def _metrics_html(metrics: dict) -> str:
    if not metrics:
        return ""
    cells = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td><b>"
        f"{html.escape(f'{v:.4g}' if isinstance(v, float) else str(v))}</b></td></tr>"
        for k, v in metrics.items()
    )
    return f"<table class='liminal-metrics'><tr><th>metric</th><th>value</th></tr>{cells}</table>"
