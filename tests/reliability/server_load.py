"""A Jupyter server with the extension under load (issue 20), shared by the suite's ~20 s
profile (tests/reliability/test_server_load.py) and the 2-minute one (stress/server_load.py).

Four runs of a four-step notebook are started over REST (POST /liminal/runs), one of them is
cancelled (DELETE /liminal/runs/ID) while the others progress, and `clients` threads, each
with its own keep-alive connection, poll GET /liminal/runs and GET /liminal/runs/ID as fast
as they are answered. Checked, per request: no 5xx and no dropped connection; every list
names all four runs (a started run never goes missing); a thread that saw a run end never
sees it running again. At the end: three runs succeeded with every step, the cancelled one
is 'cancelled', and their runners are gone. Latencies are kept for p50/p99.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from tests.conftest import code, notebook_json
from tests.server.live_server import LiveServer

NOTEBOOK = "load.ipynb"
STEPS = ["one", "two", "three", "four"]
CELLS = [
    code("pause = 1.0", "parameters"),
    code("import time", "imports"),
    code("time.sleep(pause)\na = 1", "step:one"),
    code("time.sleep(pause)\nb = a + 1", "step:two"),
    code("time.sleep(pause)\nc = b + 1", "step:three"),
    code("time.sleep(pause)\nd = c + 1", "step:four"),
    code("d", "metrics"),
]
FINAL = ("succeeded", "failed", "interrupted", "cancelled")


def write_notebook(root: Path) -> None:
    (root / NOTEBOOK).write_text(json.dumps(notebook_json(CELLS)))


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)  # seconds, every request
    failures: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=lambda: {"list": 0, "detail": 0})
    final: dict[str, dict] = field(default_factory=dict)  # run id -> its last detail
    cancelled: str = ""
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def summary(self) -> str:
        return (f"{sum(self.requests.values())} requests ({self.requests['list']} lists, "
                f"{self.requests['detail']} details) in {self.seconds:.0f} s, "
                f"p50 {self.percentile(0.5) * 1000:.0f} ms, p99 "
                f"{self.percentile(0.99) * 1000:.0f} ms, max {max(self.latencies) * 1000:.0f}"
                f" ms, {len(self.failures)} failures")


def query() -> str:
    return f"?path={quote(NOTEBOOK)}"


def start_run(server: LiveServer, pause: float) -> str:
    body = json.dumps({"path": NOTEBOOK, "parameters": {"pause": pause}, "tracking": False,
                       "use_cache": False, "jobs": 1}).encode()
    reply = server.request("POST", "/liminal/runs", body)
    assert reply.status == 202, reply.text
    return reply.json()["run_id"]


def poll(server: LiveServer, run_ids: list[str], until: float, load: Load, seed: int) -> None:
    """One client: list, then one run's detail, until `until` (time.monotonic)."""
    rng = random.Random(seed)
    ended: set[str] = set()
    while time.monotonic() < until:
        for kind in ("list", "detail"):
            run_id = rng.choice(run_ids)
            target = (f"/liminal/runs{query()}" if kind == "list"
                      else f"/liminal/runs/{run_id}{query()}")
            started = time.perf_counter()
            try:
                reply = server.request("GET", target)
            except Exception as exc:  # counted: a dropped connection is a failure too
                problem = f"GET {target}: {type(exc).__name__}: {exc}"
                reply = None
            took = time.perf_counter() - started
            if reply is not None:
                problem = check(kind, reply, run_ids, run_id, ended)
            with load.lock:
                load.latencies.append(took)
                load.requests[kind] += 1
                if problem:
                    load.failures.append(problem)


def check(kind: str, reply, run_ids: list[str], run_id: str, ended: set[str]) -> str:
    if reply.status != 200:
        return f"GET {kind} {run_id}: {reply.status} {reply.text[:300]}"
    body = reply.json()
    if kind == "list":
        states = {r["run_id"]: r["status"] for r in body["runs"]}
        missing = set(run_ids) - set(states)
        if missing:
            return f"the runs list lost {sorted(missing)}: {states}"
    else:
        states = {run_id: body["run"]["status"]}
    for rid, status in states.items():
        if status in FINAL:
            ended.add(rid)
        elif rid in ended:
            return f"run {rid} was seen ended, then {status!r}"
    return ""


def drive(server: LiveServer, seconds: float, pause: float, clients: int = 20,
          cancel_after: float = 3.0, seed: int = 1) -> Load:
    """Start the four runs, poll for `seconds` with `clients` threads, cancel the fourth run
    `cancel_after` seconds in; then wait for every run to end and record how they ended."""
    load = Load()
    write_notebook(server.root)
    run_ids = [start_run(server, pause) for _ in range(4)]
    load.cancelled = run_ids[-1]
    started = time.monotonic()
    until = started + seconds
    threads = [threading.Thread(target=poll, name=f"client-{i}", daemon=True,
                                args=(LiveServer(server.port, server.root, server.log),
                                      run_ids, until, load, seed * 1000 + i))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(cancel_after)
    reply = server.request("DELETE", f"/liminal/runs/{load.cancelled}{query()}")
    if reply.status != 202:
        load.failures.append(f"DELETE {load.cancelled}: {reply.status} {reply.text[:300]}")
    for thread in threads:
        thread.join(timeout=seconds + 120)
    load.seconds = time.monotonic() - started
    deadline = time.monotonic() + 300
    for run_id in run_ids:
        while True:
            detail = server.request("GET", f"/liminal/runs/{run_id}{query()}").json()
            if detail["run"]["status"] in FINAL or time.monotonic() > deadline:
                load.final[run_id] = detail
                break
            time.sleep(0.5)
    return load


def outcome_problems(load: Load) -> list[str]:
    """How the runs ended, against how they should have."""
    problems = []
    for run_id, detail in load.final.items():
        steps = {s["step"]: s["status"] for s in detail["steps"]}
        if run_id == load.cancelled:
            if detail["run"]["status"] != "cancelled":
                problems.append(f"cancelled run {run_id} ended {detail['run']['status']}")
        elif detail["run"]["status"] != "succeeded" or set(steps.values()) != {"succeeded"} \
                or list(steps) != STEPS:
            problems.append(f"run {run_id} ended {detail['run']['status']} with {steps}")
    return problems


def runners_left(load: Load, timeout: float = 60.0) -> list[str]:
    """Runners of the ended runs still alive after `timeout` seconds (each exits, and is
    reaped by the server, once it recorded its run's end)."""
    from liminal_jupyter.runs.store import process_alive

    deadline = time.monotonic() + timeout
    while True:
        alive = [f"{run_id}: pid {d['run']['runner_pid']}" for run_id, d in load.final.items()
                 if process_alive(d["run"]["runner_pid"], d["run"]["runner_start_time"])]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)
