"""Each step's executed notebook as HTML (`executed.html` beside `executed.ipynb`), off the
critical path of a local run.

Rendering is the runner's work, not the step's: a step's kernel is recycled for the next
step as soon as it ends, so it must not spend seconds importing nbconvert. Nor is it done
on a thread of the runner: rendering is CPU-bound Python, and on the runner's GIL it slowed
the threads that drive the kernels (a 50-step run took a third longer). So one child
process (`python -m liminal_jupyter.step.html`, reniced so that steps win the CPU, and
started with the first step that runs so that its imports overlap with that step) renders
the pages of steps in the order they end, while later steps run. The runner waits for it
only after the run is recorded finished (`close`), so the run's own duration never
includes it. A page that cannot be rendered is reported by
the child on stderr and the run goes on: the page is a view of the step, not part of its
outcome. If the runner dies, the child reads the end of its input and exits.

A KFP component or an Airflow task renders one page, after its one step: the step executor
starts the same child as the step starts (`PageRenderer(nice=0)`), so the page's libraries
load and its templates compile (about 0.35 s) while the kernel starts, and the page itself
then costs milliseconds. A child process, not a thread: a thread importing nbconvert while
the step's thread imports jupyter_client saw a partially initialised module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# Steps first: the renderer runs at a lower CPU priority than the runner and its kernels.
NICENESS = 10


class PageRenderer:
    """Feeds executed notebooks to a renderer child process, in submission order."""

    def __init__(self, warn: Callable[[str], None], enabled: bool = True,
                 nice: int = NICENESS):
        self.warn = warn
        self.enabled = enabled
        self.nice = nice
        self.child: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the renderer as the first step starts, so that its imports (seconds)
        overlap with that step instead of following it. A run of cache hits starts none."""
        if not self.enabled or self.child is not None:
            return
        try:
            self.child = subprocess.Popen(
                [sys.executable, "-m", "liminal_jupyter.step.html", "--nice", str(self.nice)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        except OSError as exc:
            self.warn(f"no HTML pages for this run: {exc}")
            self.enabled = False

    def submit(self, executed_notebook: str | Path | None,
               target: str | Path | None = None) -> None:
        """Queue the page of a step that ran (not a cached one: its page exists already),
        written to `target`, or to executed.html beside the notebook."""
        if not executed_notebook:
            return
        self.start()
        if self.child is None:
            return
        line = str(executed_notebook) if target is None else json.dumps(
            [str(executed_notebook), str(target)])
        try:
            self.child.stdin.write(line + "\n")
            self.child.stdin.flush()
        except OSError as exc:
            self.warn(f"no HTML pages for this run: {exc}")
            self.enabled = False

    def close(self) -> None:
        """Wait for the pages queued so far."""
        if self.child is None:
            return
        try:
            self.child.stdin.close()
        except OSError:
            pass
        code = self.child.wait()
        if code != 0:
            self.warn(f"the HTML page renderer exited with status {code}")
        self.child = None

    def kill(self) -> None:
        """Stop rendering now (the run was cancelled)."""
        if self.child is not None and self.child.poll() is None:
            self.child.kill()
            self.child.wait()
        self.child = None
