"""The server under load for two minutes (issue 20): 20 clients polling GET /liminal/runs
and GET /liminal/runs/ID while three runs progress and one is cancelled, against one real
Jupyter server with the extension (tests/reliability/server_load.py says what is checked).

    .venv/bin/python stress/server_load.py --seconds 120 --clients 20

Prints the request count, latency p50/p99/max, the failures (5xx, dropped connections, a
run missing from the list, a run seen ended then running) and how each run ended.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.reliability.server_load import (  # noqa: E402
    drive,
    outcome_problems,
    runners_left,
)
from tests.server.live_server import live_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="liminal-server-load-"))
    root = base / "root"
    root.mkdir()
    # Four steps of `pause` seconds: the runs last about as long as the polling.
    pause = args.seconds / 4.5
    with live_server(base, root) as server:
        load = drive(server, args.seconds, pause, args.clients,
                     cancel_after=min(10.0, args.seconds / 4), seed=args.seed)
        left = runners_left(load)
    problems = outcome_problems(load) + [f"runner left: {r}" for r in left]
    print(load.summary())
    for run_id, detail in load.final.items():
        steps = ", ".join(f"{s['step']} {s['status']}" for s in detail["steps"])
        print(f"run {run_id}: {detail['run']['status']} ({steps})")
    for failure in load.failures[:20] + problems:
        print(f"  FAILED: {failure}")
    failed = bool(load.failures or problems)
    if not failed:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
