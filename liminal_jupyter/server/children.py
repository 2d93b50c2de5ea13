"""Reaping the runner processes this server started, so none is left a zombie.

A run's runner is a child of the Jupyter server (started by `launch_run`, in its own
session). Its progress is read from the run store, never from the process, but a child
that ends must still be waited for, or it stays in the process table as a zombie until
the server exits. One small daemon thread per run waits for it; a server that stops
leaves its runs running (they are recorded in the store and outlive it by design).
"""

from __future__ import annotations

import subprocess
import threading


class ChildReaper:
    """Waits for each started runner in the background; `running()` counts the live ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, subprocess.Popen[bytes]] = {}

    def watch(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._live[process.pid] = process
        threading.Thread(target=self._wait, args=(process,), daemon=True,
                         name=f"liminal-reap-{process.pid}").start()

    def running(self) -> int:
        with self._lock:
            return len(self._live)

    def _wait(self, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        with self._lock:
            self._live.pop(process.pid, None)
