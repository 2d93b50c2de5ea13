"""A real Jupyter server with the extension, started once per test module as a child
process on 127.0.0.1, for tests that send many requests from synchronous code (Hypothesis
drives the request fuzzer synchronously; pytest-jupyter's in-process server lives in the
test's own event loop and is started anew for every test).

`live_server(root)` starts `python -m jupyter_server` with a token on a free port, waits for
GET /liminal/status, and on exit stops the server's whole process group (SIGTERM, then
SIGKILL): the model jobs it ran with it. The fuzzer starts no run and serves no model (its
requests that could are invalid by construction), and the server stops any model it served
on its way out.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.process_groups import stop_group

START_TIMEOUT = 120.0  # seconds; the machine is shared
REQUEST_TIMEOUT = 120.0
TOKEN = "liminal-rest-fuzz"
# tornado reads at most 64 KiB of request line and headers; a longer head is dropped by the
# HTTP layer, before any handler, with no reply at all: `request` returns status DROPPED.
HEAD_LIMIT = 65536
DROPPED = 0


def over_head_limit(target: str) -> bool:
    """Whether a request for `target` may have a head over tornado's limit: the request line
    and the headers this client sends (under 1 KiB) count too."""
    return len(target) + 1024 > HEAD_LIMIT


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LiveServer:
    """The running server: `request` sends one raw HTTP request with the token."""

    port: int
    root: Path
    log: Path
    pid: int = 0  # the Jupyter server's own process
    _connection: http.client.HTTPConnection | None = field(default=None, repr=False)

    def request(self, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        """`target` is sent exactly as given (path and query, already percent-encoded):
        nothing here normalizes `..`, double slashes or encodings away."""
        sent = {"Authorization": f"token {TOKEN}", "Content-Type": "application/json",
                **(headers or {})}
        for attempt in (1, 2):
            connection = self._connection or http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            self._connection = connection
            try:
                connection.request(method, target, body=body, headers=sent)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closed a kept-alive connection (after an error reply): once more
                # on a fresh one.
                connection.close()
                self._connection = None
                if over_head_limit(target):
                    return Reply(DROPPED, {}, b"")
                if attempt == 2:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                self._connection = None
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         data)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(base: Path, root: Path) -> Iterator[LiveServer]:
    """Jupyter server (with the extension, MLFLOW_TRACKING_URI unset) serving `root`."""
    port = free_port()
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(base / "config"),
           "JUPYTER_DATA_DIR": str(base / "data"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime")}
    env.pop("MLFLOW_TRACKING_URI", None)
    log_path = base / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
             f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}",
             "--ServerApp.allow_unauthenticated_access=False",
             "--ServerApp.jpserver_extensions=liminal_jupyter=True",
             "--ServerApp.jpserver_extensions=jupyter_server_terminals=False"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer(port=port, root=root, log=log_path, pid=process.pid)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if server.request("GET", "/liminal/status").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.3)
        yield server
    finally:
        server.close()
        stop_group(process)
