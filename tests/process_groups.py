"""Waiting for a process group to be gone: how tests check a server was really stopped."""

from __future__ import annotations

import os
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
