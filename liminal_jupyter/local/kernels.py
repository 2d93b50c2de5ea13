"""Warm kernels: started, and with the prelude run, before the steps that need them.

Starting a kernel and importing pandas or scikit-learn costs seconds, more than most steps
take. The pool does that ahead, while earlier steps run, so a step starts in a kernel
that is ready: a local run of a chain of steps then costs little more than one straight
papermill run of the notebook. Each step still gets its own kernel process (a crash or a
kill of one step's code cannot touch another's, nor the runner), and a kernel is never
reused: its namespace belongs to one step.

Kernels are started by jupyter_client, which sets JPY_PARENT_PID: ipykernel exits by itself
when the runner dies, even by SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import queue
import secrets
import shutil
import signal
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 60


@dataclass
class WarmKernel:
    # jupyter_client's AsyncKernelManager with a started kernel. Async, as nbclient's own:
    # a blocking client waits forever on a kernel that died, an async one notices.
    manager: Any
    prelude_ran: bool

    def shutdown(self) -> None:
        try:
            asyncio.run(self.manager.shutdown_kernel(now=True))
        except Exception:  # already dead, or never fully started
            pass

    def kill(self) -> None:
        """Stop the kernel now, from any thread (a timeout, a cancelled run).

        A signal to its process group, not jupyter_client's shutdown: that one is not safe
        to call while another thread's client waits on the kernel. The waiting client then
        sees a dead kernel and the step fails; `shutdown` cleans up after.
        """
        pid = getattr(self.manager.provisioner, "pid", None)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class KernelPool:
    """Keeps up to `ahead` kernels warming or ready, for `needed` steps in all.

    prelude: the cells to run in each kernel once it is up (the pipeline's imports and
    functions cells), or None when the prelude must run after the parameters (it reads
    one): the kernel is still started ahead. A kernel whose prelude fails is shut down and
    None is handed out instead, so that step runs cold and reports the error in its own
    executed notebook, at the prelude cell.
    """

    def __init__(self, kernel_name: str, cwd: Path, prelude: list[str] | None, needed: int,
                 ahead: int, workers: int):
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.prelude = prelude
        self.remaining = needed
        self.ahead = max(1, ahead)
        self.outstanding = 0  # warming or ready, not handed out yet
        self.ready: queue.Queue[WarmKernel | None] = queue.Queue()
        self.lock = threading.Lock()
        self.closed = False
        self.live: list[WarmKernel] = []
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="liminal-kernels-"))
        self.workers = ThreadPoolExecutor(max_workers=max(1, workers),
                                          thread_name_prefix="liminal-kernel")
        # The first kernel starts alone, so the first step is not slowed by the others
        # warming on the same cores; each kernel that becomes ready starts the next ones.
        self._start_one()

    def acquire(self) -> WarmKernel | None:
        """A warm kernel for the next step (blocks until one is ready), or None to run cold."""
        with self.lock:
            if self.outstanding == 0:  # a retry nobody planned for: warm one more
                self.remaining += 1
        self._start_one()
        kernel = self.ready.get()
        with self.lock:
            self.outstanding -= 1
            if kernel is not None:
                self.live.remove(kernel)
        self._start_one()  # keep `ahead` kernels coming for the steps after this one
        return kernel

    def close(self) -> None:
        """Shut down every kernel not handed out, and stop warming more."""
        with self.lock:
            self.closed = True
            leftovers = list(self.live)
            self.live.clear()
        self.workers.shutdown(wait=False, cancel_futures=True)
        for kernel in leftovers:
            kernel.shutdown()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def _start_one(self) -> None:
        """Warm one more kernel if steps still need one and fewer than `ahead` are coming."""
        with self.lock:
            if self.closed or self.remaining <= 0 or self.outstanding >= self.ahead:
                return
            self.remaining -= 1
            self.outstanding += 1
        self.workers.submit(self._warm)

    def _warm(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        # IPC sockets: no TCP port to pick, nothing listening on the network.
        manager = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                     ip=str(self.runtime_dir / f"kernel-{secrets.token_hex(6)}"))
        kernel = WarmKernel(manager, prelude_ran=False)
        with self.lock:
            if self.closed:
                return
            self.live.append(kernel)
        try:
            asyncio.run(self._start(kernel))
        except Exception:
            with self.lock:
                if kernel in self.live:
                    self.live.remove(kernel)
            kernel.shutdown()
            self.ready.put(None)
            return
        with self.lock:
            closed = self.closed
        if closed:
            kernel.shutdown()
            return
        self.ready.put(kernel)
        for _ in range(2):
            self._start_one()

    async def _start(self, kernel: WarmKernel) -> None:
        await kernel.manager.start_kernel(cwd=str(self.cwd))
        if self.prelude:
            kernel.prelude_ran = await self._run_prelude(kernel.manager)
            if not kernel.prelude_ran:
                raise RuntimeError("the prelude failed in a warm kernel")

    async def _run_prelude(self, manager: Any) -> bool:
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=STARTUP_TIMEOUT)
            for source in self.prelude or []:
                reply = await client.execute_interactive(
                    source, timeout=None, store_history=False, output_hook=lambda message: None
                )
                if reply["content"]["status"] != "ok":
                    return False
            return True
        finally:
            client.stop_channels()
