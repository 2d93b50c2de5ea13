"""Process groups in tests: stopping a server with everything it started, and waiting
for a group to be gone (how tests check a server was really stopped)."""

from __future__ import annotations

import os
import signal
import subprocess
import time


def group_gone(pid: int, timeout: float = 60.0) -> bool:
    """True once no process of group `pid` is left (within `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def stop_group(process: subprocess.Popen) -> None:
    """Stop a server started with start_new_session=True and everything it started
    (kernels, runners, model jobs): SIGTERM to its group, SIGKILL if it lingers 30 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
