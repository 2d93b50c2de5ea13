"""Warm kernels, and the step options that need a kernel to stop: timeout and retries."""

import asyncio
import json
import time
from pathlib import Path

from conftest import code

from liminal_jupyter.cli import main
from liminal_jupyter.engines.local.kernels import KernelPool
from liminal_jupyter.runs.store import RunStore, process_alive


def run_value(kernel, expression: str):
    """Evaluate an expression in a pool kernel, through a client as the executor's. The
    printed text is joined from every stream message: the kernel may flush `print`'s text
    and its newline in two messages on a busy machine."""

    async def evaluate():
        client = kernel.manager.client()
        client.start_channels()
        printed: list[str] = []

        def collect(message):
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])

        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute_interactive(f"print(repr({expression}))", timeout=60,
                                                     output_hook=collect)
            assert reply["content"]["status"] == "ok"
            return "".join(printed).strip()
        finally:
            client.stop_channels()

    return asyncio.run(evaluate())


def test_pool_kernels_start_in_the_notebook_folder_with_the_prelude_run(tmp_path):
    pool = KernelPool("python3", tmp_path, ["import math", "def twice(x):\n    return 2 * x"],
                      needed=2, limit=2)
    try:
        first, second = pool.acquire(), pool.acquire()
        assert first.prelude_ran and second.prelude_ran
        assert run_value(first, "twice(math.floor(2.5))") == "4"
        assert run_value(first, "__import__('os').getcwd()") == repr(str(tmp_path))
        # Two kernels, two processes: one step's namespace is never another's.
        assert first.manager.provisioner.pid != second.manager.provisioner.pid
        pid = first.manager.provisioner.pid
        first.shutdown()
        second.shutdown()
        assert not process_alive(pid)
    finally:
        pool.close()


def test_a_failing_prelude_hands_out_none_so_the_step_runs_cold(tmp_path):
    """...and says why the step had to start a kernel of its own (a warning, not silence)."""
    said: list[str] = []
    pool = KernelPool("python3", tmp_path, ["import module_that_does_not_exist"],
                      needed=1, limit=1, on_warning=said.append)
    try:
        assert pool.acquire() is None
    finally:
        pool.close()
    assert said == ["a warm kernel did not start (RuntimeError: the prelude failed in a "
                    "warm kernel); the next step starts a kernel of its own"]


def test_a_retry_beyond_the_planned_count_still_gets_a_kernel(tmp_path):
    pool = KernelPool("python3", tmp_path, None, needed=1, limit=1)
    try:
        first = pool.acquire()
        second = pool.acquire()  # not planned for: the pool warms one more
        assert first is not None and second is not None
        assert not first.prelude_ran
        first.shutdown()
        second.shutdown()
    finally:
        pool.close()


def test_close_shuts_down_the_kernels_nobody_took(tmp_path):
    pool = KernelPool("python3", tmp_path, None, needed=3, limit=3)
    deadline = time.monotonic() + 60
    while pool.ready.qsize() < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = [k.manager.provisioner.pid for k in pool.live]
    assert len(pids) == 3
    pool.close()
    assert not any(process_alive(pid) for pid in pids)


def test_without_reuse_the_first_kernels_start_together_and_no_more_than_needed(tmp_path):
    """--fresh-kernels: every step needs a kernel, so `first` of them start at once (both
    cores busy) instead of one; and never more than the steps that will take one."""
    pool = KernelPool("python3", tmp_path, None, needed=3, limit=3, reuse=False, first=2)
    try:
        assert pool.alive == 2  # started before either is ready
        kernels = [pool.acquire(), pool.acquire(), pool.acquire()]
        assert all(k is not None for k in kernels)
        assert len({pid_of(k) for k in kernels}) == 3  # a process of its own each
        for kernel in kernels:
            pool.release(kernel, reusable=True)  # no reuse: shut down
            assert not process_alive(pid_of(kernel))
    finally:
        pool.close()
    small = KernelPool("python3", tmp_path, None, needed=1, limit=3, reuse=False, first=2)
    try:
        assert small.alive == 1  # one step to serve: one kernel
    finally:
        small.close()


def pid_of(kernel) -> int:
    return kernel.manager.provisioner.pid


def test_a_released_healthy_kernel_is_recycled_with_a_clean_namespace(tmp_path):
    (tmp_path / "sub").mkdir()
    pool = KernelPool("python3", tmp_path, ["import math", "def twice(x):\n    return 2 * x"],
                      needed=2, limit=1)
    try:
        first = pool.acquire()
        run_value(first, "exec('leftover = 41; import os; os.chdir(\"sub\")')")
        assert run_value(first, "leftover") == "41"
        pool.release(first, reusable=True)

        second = pool.acquire()
        assert pid_of(second) == pid_of(first)  # the same process, imports already paid
        assert second.prelude_ran
        assert run_value(second, "'leftover' in globals()") == "False"
        assert run_value(second, "[n for n in globals() if 'liminal' in n]") == "[]"
        assert run_value(second, "twice(math.floor(2.5))") == "4"
        assert run_value(second, "__import__('os').getcwd()") == repr(str(tmp_path))
        pool.release(second, reusable=True)  # no step needs it any more: shut down
        assert not process_alive(pid_of(second))
    finally:
        pool.close()


def test_a_kernel_released_after_a_failure_is_never_reused(tmp_path):
    pool = KernelPool("python3", tmp_path, None, needed=2, limit=1)
    try:
        first = pool.acquire()
        pool.release(first, reusable=False)
        assert not process_alive(pid_of(first))
        second = pool.acquire()
        assert second is not None and pid_of(second) != pid_of(first)
        pool.release(second, reusable=False)
    finally:
        pool.close()


ISOLATION = [
    code("import os", "imports"),
    code("pid_a = os.getpid()\nhidden = 'not an output of a'", "step:a"),
    code("same_process = pid_a == os.getpid()\nsaw_hidden = 'hidden' in globals()", "step:b"),
    code("same_process\nsaw_hidden", "metrics"),
]


def test_steps_of_a_chain_share_a_recycled_kernel_but_not_its_namespace(write_nb, tmp_path,
                                                                        capsys):
    notebook = write_nb(ISOLATION)
    assert main(["run", str(notebook), "--no-tracking", "-q", "--jobs", "2"]) == 0
    store = RunStore(tmp_path / ".liminal")
    (run,) = store.list_runs()
    metrics = store.get_step(run.run_id, "b").metrics
    assert metrics == {"same_process": 1.0, "saw_hidden": 0.0}


def test_fresh_kernels_gives_every_step_its_own_process(write_nb, tmp_path, capsys):
    notebook = write_nb(ISOLATION)
    assert main(["run", str(notebook), "--no-tracking", "-q", "--fresh-kernels"]) == 0
    store = RunStore(tmp_path / ".liminal")
    (run,) = store.list_runs()
    assert store.get_step(run.run_id, "b").metrics == {"same_process": 0.0, "saw_hidden": 0.0}


def test_a_step_over_its_timeout_is_stopped_and_fails(write_nb, tmp_path, capsys):
    notebook = write_nb([
        code("import time", "imports"),
        code("time.sleep(60)\ndone = True", "step:slow", "timeout:3s"),
        code("print(done)", "step:after"),
    ])
    started = time.monotonic()
    assert main(["run", str(notebook), "--no-tracking", "-q"]) == 1
    assert time.monotonic() - started < 50
    assert "timed out after 3 s" in capsys.readouterr().err
    store = RunStore(tmp_path / ".liminal")
    (run,) = store.list_runs()
    states = {r.step: r.status for r in store.steps(run.run_id)}
    assert states == {"slow": "failed", "after": "skipped"}


def test_retries_run_a_failing_step_again_in_a_fresh_kernel(write_nb, tmp_path, capsys):
    attempts = tmp_path / "attempts.txt"
    notebook = write_nb([
        code("from pathlib import Path", "imports"),
        code(
            "p = Path('attempts.txt')\n"
            "n = int(p.read_text()) + 1 if p.exists() else 1\n"
            "p.write_text(str(n))\n"
            "assert 'flag' not in globals(), 'a retry must not see the failed attempt'\n"
            "flag = True\n"
            "if n < 3:\n"
            "    raise RuntimeError(f'attempt {n} fails')\n",
            "step:flaky", "retries:2",
        ),
        code("n", "metrics"),
    ])
    assert main(["run", str(notebook), "--no-tracking", "-q"]) == 0
    assert attempts.read_text() == "3"
    store = RunStore(tmp_path / ".liminal")
    (run,) = store.list_runs()
    (record,) = store.steps(run.run_id)
    assert (record.status, record.attempt, record.metrics) == ("succeeded", 2, {"n": 3.0})
    log = Path(record.log_path).read_text()
    assert log.count("--- attempt") == 3
    assert json.loads((Path(record.executed_notebook).parent / "result.json").read_text())[
        "status"] == "succeeded"


def test_a_step_leaves_no_client_connected_to_its_kernel(tmp_path):
    """papermill's client (nbclient) is never stopped when the kernel manager is ours: the
    runner closes it after the step, or sockets and threads piled up on a recycled kernel
    and its shutdown could hang in ZeroMQ."""
    import threading

    from liminal_jupyter.notebook.parse import parse_notebook
    from liminal_jupyter.step.execute import execute_step

    notebook = tmp_path / "two.ipynb"
    notebook.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [code("x = 1", "step:a"), code("y = x + 1", "step:b")],
    }))
    pipeline = parse_notebook(notebook)
    pool = KernelPool("python3", tmp_path, None, needed=2, limit=1)
    try:
        kernel = pool.acquire()
        before = threading.active_count()
        first = execute_step(pipeline, "a", {}, {}, tmp_path / "a", kernel_manager=kernel.manager)
        assert first.succeeded, first.error
        assert kernel.manager._liminal_open_clients  # papermill left its client open
        kernel.close_clients()
        assert not kernel.manager._liminal_open_clients
        assert threading.active_count() <= before  # its channel threads are gone
        pool.release(kernel, reusable=True)
        kernel = pool.acquire()
        second = execute_step(pipeline, "b", {}, first.outputs, tmp_path / "b",
                              kernel_manager=kernel.manager, prelude_ran=kernel.prelude_ran)
        assert second.succeeded, second.error
        pool.release(kernel, reusable=False)  # shuts down: must not hang
        assert not process_alive(pid_of(kernel))
    finally:
        pool.close()


# -- the KernelPool.close hang (issue 20): one owner per kernel, one shutdown per kernel ---
def pool_threads() -> list:
    import threading

    return [t for t in threading.enumerate()
            if t.name.startswith("liminal-kernel") and t.is_alive()]


def test_a_kernel_shut_down_from_two_threads_at_once_stops_once_and_frees_its_sockets(
        tmp_path):
    """jupyter_client's shutdown run twice at once on one manager terminated its ZeroMQ
    context twice, and the second Context.term blocked for good: the CI hang in
    KernelPool.close (close and a warming thread both shutting down one kernel)."""
    import threading

    pool = KernelPool("python3", tmp_path, None, needed=1, limit=1)
    try:
        kernel = pool.acquire()
        pid = pid_of(kernel)
        both = threading.Barrier(2)

        def stop():
            both.wait()
            kernel.shutdown()

        callers = [threading.Thread(target=stop) for _ in range(2)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        assert not process_alive(pid)
        assert kernel.manager.context.closed
        assert pool_threads() == []  # no shutdown left blocked in Context.term
    finally:
        pool.close()


SLOW_PRELUDE = ["import time", "time.sleep(60)"]


def test_closing_a_pool_while_a_kernel_runs_its_prelude_ends_the_kernel_and_its_thread(
        tmp_path):
    """close() used to shut the kernel down under the warming thread's client (a socket
    closed by another thread) while that thread could shut it down too."""
    pool = KernelPool("python3", tmp_path, SLOW_PRELUDE, needed=2, limit=2)
    deadline = time.monotonic() + 60
    while not any(k.manager.provisioner and k.manager.provisioner.pid for k in pool.busy):
        assert time.monotonic() < deadline, "no kernel started"
        time.sleep(0.05)
    kernels = list(pool.busy)
    pool.close()
    assert pool_threads() == []  # close waited for its warming threads to give up
    for kernel in kernels:
        assert kernel._stopped
        assert kernel.manager.context.closed
        provisioner = kernel.manager.provisioner
        assert provisioner is None or not process_alive(provisioner.pid)


def test_closing_a_pool_while_a_kernel_is_recycled_ends_the_kernel_and_its_thread(tmp_path):
    pool = KernelPool("python3", tmp_path, None, needed=2, limit=1)
    kernel = pool.acquire()
    pid = pid_of(kernel)
    pool.prelude = SLOW_PRELUDE  # the recycling re-runs it: close comes in the middle
    pool.release(kernel, reusable=True)
    assert kernel in pool.busy
    time.sleep(0.5)
    pool.close()
    assert pool_threads() == []
    assert kernel._stopped and not process_alive(pid)


def test_a_kernel_that_dies_in_its_prelude_hands_out_none_instead_of_hanging(tmp_path):
    """The warming thread waited on IOPub without a bound (execute_interactive with no
    timeout): a kernel killed mid-prelude kept it, and the step waiting in acquire, forever."""
    import threading

    pool = KernelPool("python3", tmp_path,
                      ["import os, signal", "os.kill(os.getpid(), signal.SIGKILL)"],
                      needed=1, limit=1)
    got = []
    taker = threading.Thread(target=lambda: got.append(pool.acquire()), daemon=True)
    taker.start()
    taker.join(120)  # a guard against the old hang, not a speed figure
    try:
        assert got == [None]
    finally:
        pool.close()
    assert pool_threads() == []
