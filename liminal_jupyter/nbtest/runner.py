"""Run test cases in parallel, each in a child process with a deadline.

Threads here only wait on child processes (`execute.py`). At a case's deadline the child
gets SIGINT (it stops its kernels and records the cell or step that was running) and, if
it has not finished GRACE seconds later, SIGKILL for its whole process group. Whatever
happens to the child, the case gets a result: a missing or unreadable result.json is a
failure that points at the case's log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from liminal_jupyter.atomic import write_json
from liminal_jupyter.nbtest.cases import TestCase
from liminal_jupyter.nbtest.execute import CASE_FILE
from liminal_jupyter.nbtest.results import FAILED, TIMEOUT, CaseResult, Failure

GRACE = 30.0
LOG_FILE = "log.txt"


@dataclass
class RunSettings:
    jobs: int = 1  # cases at once
    pipeline_jobs: int = os.cpu_count() or 1  # steps at once within a pipeline case
    tracking: bool = False  # MLflow tracking of pipeline cases: off for CI by default
    fresh_kernels: bool = False  # a new kernel per pipeline step, as in a Kubeflow pod


def run_cases(cases: list[TestCase], settings: RunSettings,
              on_result: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Every case's result, in the order of `cases`; `on_result` hears each as it ends."""
    stopping = threading.Event()
    children: dict[int, subprocess.Popen] = {}
    lock = threading.Lock()

    def one(case: TestCase) -> CaseResult:
        if stopping.is_set():
            return _result(case, FAILED, 0.0, Failure("not run: the test run was interrupted"))
        result = run_case(case, settings, children, lock)
        if on_result is not None:
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, settings.jobs),
                            thread_name_prefix="liminal-test") as pool:
        futures = [pool.submit(one, case) for case in cases]
        try:
            return [future.result() for future in futures]
        except KeyboardInterrupt:
            stopping.set()
            with lock:
                for child in children.values():
                    _signal(child, signal.SIGINT)
            raise


def run_case(case: TestCase, settings: RunSettings,
             children: dict[int, subprocess.Popen] | None = None,
             lock: threading.Lock | None = None) -> CaseResult:
    """Run one case in a child process and return its result (never raises for the case)."""
    children = {} if children is None else children
    lock = lock or threading.Lock()
    folder = case.output_dir
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / CASE_FILE, {
        "case_id": case.case_id, "notebook": str(case.notebook), "display": case.display,
        "set_name": case.parameter_set.name, "parameters": case.parameter_set.values,
        "mode": case.mode, "kernel": case.kernel, "tracking": settings.tracking,
        "jobs": settings.pipeline_jobs, "fresh_kernels": settings.fresh_kernels,
    })
    log = folder / LOG_FILE
    started = time.monotonic()
    with open(log, "wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "liminal_jupyter.nbtest.execute", str(folder)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=str(case.notebook.parent), start_new_session=True, env=_child_env())
        with lock:
            children[child.pid] = child
        timed_out = _wait(child, case.timeout)
        with lock:
            children.pop(child.pid, None)
    duration = time.monotonic() - started
    result = CaseResult.read(folder)
    if result is None:
        failure = Failure(f"the test process ended with exit code {child.returncode} and no "
                          f"result; its log: {log}")
        result = _result(case, FAILED, duration, failure)
    result.duration = duration
    result.log = str(log)
    if timed_out:
        _timed_out(result, case)
    return result


def _wait(child: subprocess.Popen, timeout: float) -> bool:
    """Wait for the child; at the deadline interrupt it, then kill it. True if it timed out."""
    try:
        child.wait(timeout=timeout)
        return False
    except subprocess.TimeoutExpired:
        pass
    _signal(child, signal.SIGINT)
    try:
        child.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        child.wait()
    return True


def _signal(child: subprocess.Popen, signum: int) -> None:
    try:
        child.send_signal(signum)
    except (ProcessLookupError, OSError):
        pass


def _timed_out(result: CaseResult, case: TestCase) -> None:
    result.status = TIMEOUT
    failure = result.failure or Failure("")
    where = failure.where()
    failure.message = (f"timed out after {case.timeout:g} s"
                       + (f", while running {where}" if where else "")
                       + " (raise it with --timeout)")
    failure.ename = failure.ename or "Timeout"
    failure.evalue = failure.evalue or failure.message
    result.failure = failure


def _result(case: TestCase, status: str, duration: float, failure: Failure) -> CaseResult:
    return CaseResult(case.case_id, case.display, case.parameter_set.name,
                      case.parameter_set.values, case.mode, status, duration,
                      output_dir=str(case.output_dir), failure=failure)


def _child_env() -> dict[str, str]:
    """The child's environment: ours, with Python's output unbuffered for the log."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def dump(results: list[CaseResult]) -> str:
    return json.dumps([r.to_json() for r in results], indent=2)
