"""Warm kernels: started, and with the prelude run, before the steps that need them.

Starting a kernel and importing pandas or scikit-learn costs seconds, more than most steps
take, and on a small machine several kernels importing at once slow each other down. So
the pool starts kernels ahead, while earlier steps run, and recycles the kernel of a step
that succeeded for a later step: its namespace is cleared (what `%reset -f` clears, the
working directory restored, figures closed) and the prelude re-run, which costs milliseconds since
its modules are already imported. A local run of a chain of steps then costs little more
than one straight papermill run. Steps still run outside the runner's process (a crash or a
kill of one step's code cannot take the runner down), a step only sees its declared inputs,
and a kernel that failed, timed out or was killed is never reused. What a recycled kernel
keeps is process state outside the namespace: imported modules, their globals (numpy's
global random state), environment variables. `reuse=False` (`liminal-nb run
--fresh-kernels`) gives every step a new process, as a KFP pod does.

Kernels are started by jupyter_client, which sets JPY_PARENT_PID: ipykernel exits by itself
when the runner dies, even by SIGKILL.

One owner at a time: a kernel being warmed or recycled belongs to its background thread,
a kernel handed out to its step, a kernel waiting in the queue to the pool. Only the owner
talks to the kernel's sockets or shuts it down; anyone may `kill` it (a signal). jupyter_client's
`shutdown_kernel` run twice at once on one manager terminates its ZeroMQ context twice, and
the second `Context.term` blocks for good (the hang once seen in CI, in `KernelPool.close`):
so `close` kills the kernels still warming or recycling and waits for their threads to
shut them down, and `WarmKernel.shutdown` runs once whoever calls it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 60
SHUTDOWN_WAIT = 20  # seconds; see WarmKernel.shutdown
CLOSE_WAIT = 30  # seconds close() waits for a warming or recycling thread to give up
POLL = 0.2  # seconds between checks that a warming kernel is alive and still wanted

log = logging.getLogger(__name__)


@dataclass(eq=False)  # one object, one kernel: compared and hashed by identity
class WarmKernel:
    # jupyter_client's AsyncKernelManager with a started kernel. Async, as nbclient's own:
    # a blocking client waits forever on a kernel that died, an async one notices.
    manager: Any
    prelude_ran: bool
    _stopping: threading.Lock = field(default_factory=threading.Lock, repr=False,
                                      compare=False)
    _stopped: bool = field(default=False, repr=False, compare=False)

    def close_clients(self) -> None:
        """Close the clients a step left connected (papermill's): call after each step."""
        from liminal_jupyter.engines.local.ready_client import stop_clients

        stop_clients(self.manager)

    def shutdown(self) -> None:
        """Stop the kernel and free its sockets, once: a second call waits for the first.

        Called by the kernel's owner only (see the module docstring). Twice at once, on one
        manager, jupyter_client's shutdown terminated the same ZeroMQ context twice, and the
        second `Context.term` never returned. The wait stays bounded (SHUTDOWN_WAIT) as a
        last defence: the process is gone by then; only the wait for the sockets is given up.
        """
        with self._stopping:
            if self._stopped:
                return
            self._stopped = True
            self._shutdown()

    def _shutdown(self) -> None:
        self.close_clients()

        def stop() -> None:
            try:
                asyncio.run(self.manager.shutdown_kernel(now=True))
            except Exception:  # already dead, or never fully started
                pass

        stopper = threading.Thread(target=stop, daemon=True, name="liminal-kernel-shutdown")
        stopper.start()
        stopper.join(SHUTDOWN_WAIT)
        if stopper.is_alive():
            log.warning("kernel %s: ZeroMQ did not let go of its sockets in %d s; the "
                        "process is killed and its sockets are left to the exit",
                        getattr(self.manager.provisioner, "pid", "?"), SHUTDOWN_WAIT)
            self.kill()  # in case it had not got as far as killing the process

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
    """Hands out warm kernels, up to `limit` alive at once, for `needed` steps in all.

    prelude: the cells to run in each kernel once it is up (the pipeline's imports and
    functions cells), or None when the prelude must run after the parameters (it reads
    one): the kernel is still started ahead. A kernel whose prelude fails is shut down and
    None is handed out instead, so that step runs cold and reports the error in its own
    executed notebook, at the prelude cell.

    limit: kernels alive at once beyond those a waiting step needs; with reuse, the most
    steps that can run at once (more would only compete for the cores), without it one
    more than that, warming ahead.

    first: kernels started at once, before any is ready. With reuse, one: a chain of steps
    needs no second kernel, and a second one warming would slow the first step down.
    Without reuse every step needs a kernel of its own, and the first two started together
    use both cores of a small machine where one alone leaves one idle.
    """

    def __init__(self, kernel_name: str, cwd: Path, prelude: list[str] | None, needed: int,
                 limit: int, reuse: bool = True, env: dict[str, str] | None = None,
                 on_warning: Callable[[str], None] | None = None, first: int = 1):
        self.kernel_name = kernel_name
        # Told (a text) when a kernel could not be warmed or recycled: the step still runs,
        # in a kernel of its own, but the run's output says why it was slower.
        self.on_warning = on_warning
        self.env = env or {}  # set in every kernel, on top of the runner's environment
        self.cwd = cwd
        self.prelude = prelude
        self.reuse = reuse
        self.unserved = needed  # steps that will still acquire a kernel
        self.limit = max(1, limit)
        self.alive = 0  # started and not shut down: warming, ready, in use, recycling
        self.idle = 0  # alive and not in use (warming, ready, recycling), or a None handed out
        self.waiting = 0  # acquire() calls blocked now
        self.ready: queue.Queue[WarmKernel | None] = queue.Queue()
        self.lock = threading.Lock()
        self.closed = False
        self.live: list[WarmKernel] = []  # not handed out: shut down by close()
        self.busy: set[WarmKernel] = set()  # of `live`, owned by a warming/recycling thread
        self.workers: set[threading.Thread] = set()
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="liminal-kernels-"))
        # The first kernels (see `first`) start at once; each kernel that becomes ready
        # starts the next ones.
        with self.lock:
            for _ in range(min(max(1, first), self.limit)):
                if self.unserved > self.idle:
                    self._start_locked()

    def acquire(self) -> WarmKernel | None:
        """A warm kernel for the next step (blocks until one is ready), or None to run cold."""
        with self.lock:
            if self.closed:  # a cancelled run: nothing more will be warmed or handed out
                return None
            if self.unserved <= 0:  # a retry nobody planned for
                self.unserved = 1
            self.waiting += 1
            if self.idle < self.waiting:  # nothing coming for this caller: start one now
                self._start_locked()
        kernel = self.ready.get()
        with self.lock:
            self.waiting -= 1
            self.unserved -= 1
            self.idle -= 1
            if kernel is not None:
                if kernel in self.live:
                    self.live.remove(kernel)
                else:  # close() took it meanwhile, and shuts it down
                    kernel = None
        return kernel

    def expect(self, more: int, limit: int) -> None:
        """`more` acquires than planned (a fan-out step's elements, known once it starts),
        with up to `limit` kernels alive at once for them."""
        with self.lock:
            self.unserved += more
            self.limit = max(self.limit, limit)
            self._start_more_locked()

    def release(self, kernel: WarmKernel, reusable: bool) -> None:
        """Give back a kernel a step has finished with: recycled for a later step if it is
        healthy and one will need it, else shut down."""
        with self.lock:
            recycle = (self.reuse and reusable and not self.closed
                       and self.unserved > self.idle)
            if recycle:
                self.idle += 1
                self.live.append(kernel)
                self.busy.add(kernel)
                self._in_background_locked(self._recycle, kernel)
        if recycle:
            return
        kernel.shutdown()
        with self.lock:
            self.alive -= 1
            self._start_more_locked()

    def close(self) -> None:
        """Shut down every kernel not handed out, and stop warming more.

        A kernel still warming or recycling is its thread's to shut down (see the module
        docstring): it is killed here, its thread notices within about a second, shuts it
        down and ends; close waits for that (at most CLOSE_WAIT seconds), then shuts down the
        kernels that were waiting in the queue.
        """
        with self.lock:
            self.closed = True
            leftovers = list(self.live)
            self.live.clear()
            waiting = self.waiting
            workers = list(self.workers)
        for _ in range(waiting):  # nothing will be handed to them any more
            self.ready.put(None)
        for kernel in leftovers:  # a signal: safe whoever owns the kernel
            kernel.kill()
        for worker in workers:
            worker.join(CLOSE_WAIT)
        with self.lock:
            owned = set(self.busy)
        for kernel in leftovers:
            if kernel in owned:  # its thread is stuck: never shut down under it
                log.warning("a kernel thread did not end in %d s; its killed kernel is "
                            "left to it", CLOSE_WAIT)
                continue
            kernel.shutdown()
        if not owned:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)

    # -- starting and recycling (the lock is held by callers of *_locked) -----------------
    def _start_more_locked(self) -> None:
        """Warm more kernels while steps will need them and fewer than `limit` are alive."""
        while (not self.closed and self.alive < self.limit
               and self.unserved > self.idle):
            self._start_locked()

    def _start_locked(self) -> None:
        if self.closed:
            return
        self.alive += 1
        self.idle += 1
        self._in_background_locked(self._warm)

    def _in_background_locked(self, work: Callable[..., None], *args: Any) -> None:
        """Warming and recycling run in daemon threads: a runner that is exiting (a cancel,
        an error) must not wait for a kernel that is still importing; the kernel exits by
        itself when the runner is gone. `close` waits for them, briefly (see there)."""
        worker = threading.Thread(target=self._owned, args=(work, *args), daemon=True,
                                  name="liminal-kernel")
        self.workers.add(worker)
        worker.start()

    def _owned(self, work: Callable[..., None], *args: Any) -> None:
        try:
            work(*args)
        finally:
            with self.lock:
                self.workers.discard(threading.current_thread())

    def _warm(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        # IPC sockets: no TCP port to pick, nothing listening on the network.
        # Its clients (ours and papermill's) know the kernel is ready after one round trip.
        manager = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                     ip=str(self.runtime_dir / f"kernel-{secrets.token_hex(6)}"),
                                     client_class="liminal_jupyter.engines.local.ready_client.ReadyClient")
        kernel = WarmKernel(manager, prelude_ran=False)
        with self.lock:
            if self.closed:
                return
            self.live.append(kernel)
            self.busy.add(kernel)
        try:
            asyncio.run(self._start(kernel))
        except (Exception, asyncio.CancelledError) as exc:
            self._warn(f"a warm kernel did not start ({type(exc).__name__}: {exc}); the next "
                       "step starts a kernel of its own")
            self._discard(kernel)
            return
        self._hand_over(kernel)

    def _recycle(self, kernel: WarmKernel) -> None:
        try:
            ok = asyncio.run(self._run_cells(kernel.manager, [self._reset_code()]
                                             + (self.prelude or [])))
        except (Exception, asyncio.CancelledError) as exc:
            self._warn(f"a kernel could not be recycled ({type(exc).__name__}: {exc}); the "
                       "next step starts a kernel of its own")
            ok = False
        if not ok:
            self._discard(kernel)
            return
        kernel.prelude_ran = bool(self.prelude)
        self._hand_over(kernel)

    def _warn(self, text: str) -> None:
        if self.on_warning is not None and not self.closed:  # a closing pool kills kernels
            self.on_warning(text)

    def _hand_over(self, kernel: WarmKernel) -> None:
        """From the warming or recycling thread to the queue (or, once closed, to its end)."""
        with self.lock:
            closed = self.closed
            if not closed:
                self.busy.discard(kernel)
                self.ready.put(kernel)
                self._start_more_locked()
        if closed:
            kernel.shutdown()
            with self.lock:
                self.busy.discard(kernel)

    def _discard(self, kernel: WarmKernel) -> None:
        """A kernel that could not start, run the prelude or be reset: the waiting step gets
        None and runs in a fresh kernel of its own, where the error is reported."""
        with self.lock:
            if kernel in self.live:
                self.live.remove(kernel)
            self.alive -= 1
        kernel.shutdown()
        with self.lock:
            self.busy.discard(kernel)
        self.ready.put(None)

    def _reset_code(self) -> str:
        # What `%reset -f` clears (the user's names, the output cache that holds references
        # to results), without its two forced garbage collections: 0.4 s of a 0.6 s
        # recycle with pandas and scikit-learn loaded.
        return (
            "def _liminal_reset(shell, cwd):\n"
            "    import os, sys\n"
            "    keep = set(shell.user_ns_hidden) | {'__name__', '__doc__', '__package__',\n"
            "        '__loader__', '__spec__', '__builtin__', '__builtins__'}\n"
            "    for name in [n for n in shell.user_ns if n not in keep]:\n"
            "        del shell.user_ns[name]\n"
            "    shell.user_ns['_oh'].clear()\n"
            "    os.chdir(cwd)\n"
            "    if 'matplotlib.pyplot' in sys.modules:\n"
            "        sys.modules['matplotlib.pyplot'].close('all')\n"
            f"_liminal_reset(get_ipython(), {str(self.cwd)!r})\n"
        )

    async def _start(self, kernel: WarmKernel) -> None:
        await kernel.manager.start_kernel(cwd=str(self.cwd), env={**os.environ, **self.env})
        if self.closed:  # closed while it launched: its pid came too late for close's kill
            raise RuntimeError("the pool was closed while the kernel started")
        if self.prelude:
            kernel.prelude_ran = await self._run_cells(kernel.manager, self.prelude)
            if not kernel.prelude_ran:
                raise RuntimeError("the prelude failed in a warm kernel")

    async def _run_cells(self, manager: Any, sources: list[str]) -> bool:
        """Run cells, False at the first error, or once the kernel dies or the pool closes.

        Not `execute_interactive(timeout=None)`: it waits on IOPub for good when the
        kernel dies mid-cell, and the thread with it. No stdin either: a prelude that asks
        for input fails instead of waiting on the runner's terminal.
        """
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=STARTUP_TIMEOUT)
            for source in sources:
                msg_id = client.execute(source, store_history=False, allow_stdin=False)
                reply = await client.reply_while(msg_id, POLL, lambda: not self.closed)
                if reply is None or reply["content"]["status"] != "ok":
                    return False
            return True
        finally:
            client.stop_channels()
