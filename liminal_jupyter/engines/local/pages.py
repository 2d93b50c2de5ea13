"""Each step's executed notebook as HTML (`executed.html` beside `executed.ipynb`), off the
critical path of a local run.

Rendering is the runner's own work, not the step's: a step's kernel is recycled for the
next step as soon as it ends, so it must not spend a second importing nbconvert. One
background thread renders the pages of steps in the order they end, while later steps
run; the runner waits for it only after the run is recorded finished (`close`), so the
run's own duration never includes it. A page that cannot be rendered is reported as a
warning and the run goes on: the page is a view of the step, not part of its outcome.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path


class PageRenderer:
    """Renders executed notebooks to HTML on one background thread, in submission order."""

    def __init__(self, warn: Callable[[str], None], enabled: bool = True):
        self.warn = warn
        self.enabled = enabled
        self.queue: queue.Queue[Path | None] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.rendered: list[Path] = []

    def submit(self, executed_notebook: str | None) -> None:
        """Queue the page of a step that ran (not a cached one: its page exists already)."""
        if not self.enabled or not executed_notebook:
            return
        if self.thread is None:
            self.thread = threading.Thread(target=self._work, name="liminal-html", daemon=True)
            self.thread.start()
        self.queue.put(Path(executed_notebook))

    def close(self) -> None:
        """Wait for the pages queued so far."""
        if self.thread is None:
            return
        self.queue.put(None)
        self.thread.join()
        self.thread = None

    def _work(self) -> None:
        while (notebook := self.queue.get()) is not None:
            try:
                from liminal_jupyter.step.html import write_html

                if notebook.is_file():
                    self.rendered.append(write_html(notebook))
            except Exception as exc:  # a view of the step; the step's outcome stands
                self.warn(f"warning: no HTML page for {notebook}: {type(exc).__name__}: {exc}")
