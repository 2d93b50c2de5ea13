"""The run's tracker in a process of its own, fed in order, while the steps run.

Tracking a run costs seconds of CPU: importing MLflow, opening its store, writing the
model. In a thread of the runner it holds the interpreter lock while the step's kernel
client waits for it, so every step of a tracked run ran slower; in a process of its own it
runs on another core, beside the step's kernel, and the runner only sends it what happened.

The child gets plain data (the pipeline, step records, the promotion decision) and sends
back warnings and messages as they happen, the tracking run id once it has one, and at
the end what the run store records of it (registered models, the decision). It ignores
Ctrl-C (the runner decides, then sends `finish`) and ends if the runner disappears.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

NOTIFY = "__notify__"  # stands for the runner's message callback in a promote call
_PARENT_CHECK_S = 2.0


@dataclass
class TrackerConfig:
    """What the child needs to build and start the run's tracker (create_tracker)."""

    tracking_uri: str | None
    pipeline: Any
    liminal_dir: str
    run_id: str
    parameters: dict[str, Any]
    experiment: str | None
    tags: dict[str, Any] = field(default_factory=dict)
    warm_up: bool = False


class TrackerProcess:
    """start / submit(method, *args) / finish(status), as the runner's tracking thread had.

    After `finish`, `tracker` holds what the run store records: registered_models,
    decision, tracking_uri, disabled_reason.
    """

    def __init__(self, config: TrackerConfig | None, warn: Callable[[str], None],
                 message: Callable[[str], None] | None = None,
                 on_started: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.warn = warn
        self.message = message or warn
        self.on_started = on_started
        self.tracker: Any = None
        self.waiting: list[tuple[str, tuple]] = []
        self.process: Any = None
        self.inbox: Any = None
        self.reader: threading.Thread | None = None

    @property
    def disabled_reason(self) -> str | None:
        return getattr(self.tracker, "disabled_reason", None)

    def start(self) -> None:
        if self.process is not None or self.config is None:
            return
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # never fork a threaded runner
        self.inbox = context.Queue()
        outbox = context.Queue()
        self.process = context.Process(target=_child, args=(self.config, self.inbox, outbox,
                                                            os.getpid()),
                                       name="liminal-tracking", daemon=True)
        self.process.start()
        self.reader = threading.Thread(target=self._read, args=(outbox,),
                                       name="liminal-tracking-reader", daemon=True)
        self.reader.start()
        for item in self.waiting:
            self.inbox.put(item)
        self.waiting.clear()

    def submit(self, method: str, *args: Any) -> None:
        if method == "promote":  # a callback cannot cross; the child sends its messages
            args = tuple(NOTIFY if callable(a) else a for a in args)
        if self.process is None:
            self.waiting.append((method, args))
        else:
            self.inbox.put((method, args))

    def finish(self, status: str) -> None:
        if self.process is None:
            return
        self.inbox.put(("finish", (status,)))
        self.inbox.put(None)
        self.reader.join()
        # Its result is in: the child's own exit (MLflow's exit handlers, about a second)
        # is nobody's wait. Reaped in the background; a runner that exits first ends it.
        threading.Thread(target=self.process.join, name="liminal-tracking-reaper",
                         daemon=True).start()
        if self.tracker is None:
            self.warn("MLflow tracking ended without its result (its process exited "
                      f"with {self.process.exitcode}); the run's models may be unrecorded")

    def _read(self, outbox: Any) -> None:
        import queue

        while True:
            try:
                kind, value = outbox.get(timeout=1.0)
            except queue.Empty:
                if not self.process.is_alive():
                    return
                continue
            if kind == "warn":
                self.warn(value)
            elif kind == "message":
                self.message(value)
            elif kind == "started" and self.on_started is not None:
                self.on_started(value)
            elif kind == "done":
                self.tracker = SimpleNamespace(**value)
                return


def _child(config: TrackerConfig, inbox: Any, outbox: Any, parent: int) -> None:
    import logging
    import queue
    import signal
    import warnings
    from pathlib import Path

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from liminal_jupyter.startup import skip_slow_optional_imports

    skip_slow_optional_imports()
    # MLflow's own hints (schema inference, pickle formats) are for MLflow users; the
    # run's terminal shows our progress and our warnings only.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")

    def warn(text: str) -> None:
        outbox.put(("warn", text))

    tracker = None
    try:
        from liminal_jupyter.tracking.run import create_tracker

        tracker = create_tracker(config.tracking_uri, config.pipeline, Path(config.liminal_dir),
                                 on_warning=warn)
        tracker.start(config.pipeline, config.run_id, config.parameters, config.experiment,
                      config.tags)
        if getattr(tracker, "parent_run_id", None):
            outbox.put(("started", tracker.parent_run_id))
        if config.warm_up:
            tracker.warm_up()
    except Exception as exc:  # tracking must never stop a run; said, then off
        warn(f"MLflow tracking is off for this run: {type(exc).__name__}: {exc}")
        tracker = None
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # importing mlflow resets it
    while True:
        try:
            item = inbox.get(timeout=_PARENT_CHECK_S)
        except queue.Empty:
            if os.getppid() != parent:  # the runner is gone: nobody will say finish
                return
            continue
        if item is None:
            break
        method, args = item
        if tracker is None:
            continue
        args = tuple((lambda text: outbox.put(("message", text)))
                     if isinstance(a, str) and a == NOTIFY else a for a in args)
        try:
            getattr(tracker, method)(*args)
        except Exception as exc:  # a tracker bug must not stop the run; said
            warn(f"MLflow tracking failed ({method}): {type(exc).__name__}: {exc}")
    outbox.put(("done", {
        "registered_models": list(getattr(tracker, "registered_models", None) or []),
        "decision": getattr(tracker, "decision", None),
        "tracking_uri": getattr(tracker, "tracking_uri", None),
        "disabled_reason": getattr(tracker, "disabled_reason", None),
    }))
