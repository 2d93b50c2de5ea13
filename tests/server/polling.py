"""Waiting for a run through the REST API, as the panel does: poll GET /liminal/runs/ID."""

from __future__ import annotations

import asyncio
import time

RUN_TIMEOUT = 300.0  # seconds; the machine is shared, kernels start slowly under load


async def wait_for(api, path: str, run_id: str, done, timeout: float = RUN_TIMEOUT) -> dict:
    """Poll GET /liminal/runs/ID until `done(detail)`; the last detail."""
    deadline = time.monotonic() + timeout
    while True:
        status, detail = await api("GET", "runs", run_id, params={"path": path})
        assert status == 200, detail
        if done(detail):
            return detail
        assert time.monotonic() < deadline, f"timed out; last state: {detail}"
        await asyncio.sleep(0.3)


def finished(detail: dict) -> bool:
    return detail["run"]["status"] != "running"
