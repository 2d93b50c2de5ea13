"""A kernel client that knows its kernel is ready after one round trip, not after a pause.

jupyter_client's `wait_for_ready` sends kernel_info, then, to be sure the IOPub channel is
connected, waits for any IOPub message and drains IOPub until it has been silent for 0.2 s.
That silence is a fixed cost on every new client, and a local run makes two per step (the
recycling of a warm kernel, then papermill's own client): 0.4 s a step, most of what a
local run costs over papermill. This client waits instead for the one message that proves
the same thing: the `idle` status IOPub publishes after our own kernel_info request. Once
it has arrived IOPub is connected, and nothing of ours is still in flight. A client that
never sees it (IOPub not connected yet: ZeroMQ drops what a subscriber misses while it
joins) asks again, as jupyter_client does.

Used for the runner's warm kernels through the kernel manager's `client_class`, so nbclient
(inside papermill) gets it too. nbclient never stops the channels of a client it made for a
kernel manager it was given, so each client is also remembered on its manager, and
`stop_clients` closes what is left after a step: left open, their sockets and threads piled
up, one set a step, and the kernel's shutdown could block in ZeroMQ's `Context.term`
waiting for them. No heartbeat channel either (a thread of its own): with a kernel manager
as parent, liveness is asked of the manager, never of the heartbeat.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient

REPLY_WAIT = 1.0  # seconds for a kernel_info reply before asking again
IDLE_WAIT = 0.2  # seconds for our request's idle status before asking again


class ReadyClient(AsyncKernelClient):
    def start_channels(self, shell: bool = True, iopub: bool = True, stdin: bool = True,
                       hb: bool = False, control: bool = True) -> None:
        super().start_channels(shell=shell, iopub=iopub, stdin=stdin, hb=hb, control=control)
        _open_clients(self.parent).add(self)

    def stop_channels(self) -> None:
        _open_clients(self.parent).discard(self)
        super().stop_channels()

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            reply = await self._reply_to(msg_id, REPLY_WAIT)
            if reply is not None and await self._idle_after(msg_id, IDLE_WAIT):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def reply_while(self, msg_id: str, poll: float,
                          wanted: Callable[[], bool]) -> dict[str, Any] | None:
        """The shell reply to `msg_id`, or None once the kernel died or `wanted()` is False.

        Checked every `poll` seconds: a kernel killed mid-cell never replies, and a client
        that waited for it without a bound kept its thread, and the kernel's sockets, busy.
        """
        while True:
            reply = await self._reply_to(msg_id, poll)
            if reply is not None:
                return reply
            if not wanted() or not await self._async_is_alive():
                return None

    async def _reply_to(self, msg_id: str, wait: float) -> dict[str, Any] | None:
        """The shell reply to `msg_id` (replies to earlier attempts are skipped)."""
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await self.shell_channel.get_msg(timeout=left)
            except Empty:
                return None
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    async def _idle_after(self, msg_id: str, wait: float) -> bool:
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await self.iopub_channel.get_msg(timeout=left)
            except Empty:
                return False
            if (msg.get("parent_header", {}).get("msg_id") == msg_id
                    and msg.get("msg_type") == "status"
                    and msg.get("content", {}).get("execution_state") == "idle"):
                return True
        return False


def stop_clients(manager: Any) -> None:
    """Stop the channels of every client of `manager` still open (papermill's, after a step)."""
    for client in list(_open_clients(manager)):
        with contextlib.suppress(Exception):  # a channel already closed by a dying kernel
            client.stop_channels()  # forgets the client first, whatever happens next


def _open_clients(manager: Any) -> set[ReadyClient]:
    if manager is None:
        return set()
    clients = getattr(manager, "_liminal_open_clients", None)
    if clients is None:
        clients = set()
        manager._liminal_open_clients = clients
    return clients
