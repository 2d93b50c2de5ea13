"""The model servers this Jupyter server started for the panel, and stopping them.

Each is MLflow's scoring server (`deploy.serve.serve_model`), a child process in its own
process group (its uvicorn workers included), listening on 127.0.0.1 only: a served model
answers anyone who can reach the port, so it stays on this machine. They belong to the
Jupyter server that started them: DELETE stops one, and the extension's cleanup stops all
of them when the server shuts down (`stop_all`), so none outlives its session.

A Jupyter server killed with SIGKILL runs no cleanup, and its scoring servers, in process
groups of their own, live on. So each one is also recorded in a small file under Jupyter's
runtime dir (pid and start time of the scoring server and of the Jupyter server that owns
it); the next server start reads them (`stop_orphans`) and stops every scoring server
whose owner is gone, checking the start time so a reused pid is never signalled.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liminal_jupyter.deploy.serve import ServedModel, port_in_use, stop_process_group
from liminal_jupyter.deploy.serve import answers as answers_ping

HOST = "127.0.0.1"
SERVE_TIMEOUT = 300.0  # seconds until the scoring server must answer; the machine is shared


class PortTaken(Exception):
    """The port asked for is in use, or being claimed by another deploy."""


@dataclass
class ServedEntry:
    id: str
    name: str | None
    version: str | None
    uri: str
    tracking_uri: str
    port: int
    log_path: Path
    started: float = field(default_factory=time.time)
    served: ServedModel | None = None

    def to_json(self) -> dict[str, Any]:
        url = f"http://{HOST}:{self.port}"
        return {"id": self.id, "name": self.name, "version": self.version, "uri": self.uri,
                "tracking_uri": self.tracking_uri, "port": self.port, "url": url,
                "invocations_url": f"{url}/invocations",
                "pid": self.served.process.pid if self.served else None,
                "started": self.started}

    def alive(self) -> bool:
        return self.served is not None and self.served.process.poll() is None


class ServedModels:
    """Thread-safe: handlers start, list and stop servers from worker threads."""

    def __init__(self, log_dir: Path, records_dir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, ServedEntry] = {}
        self._claimed: set[int] = set()  # ports of servers still starting
        self.log_dir = log_dir
        self.records_dir = records_dir  # where `stop_orphans` of a later start looks

    def claim_port(self, port: int | None) -> int:
        """`port`, or a free one, reserved for a deploy about to start; PortTaken if used."""
        with self._lock:
            if port is None:
                port = _free_port()
            busy = port in self._claimed or any(e.port == port for e in self._entries.values())
            if busy or port_in_use(HOST, port):
                raise PortTaken(f"port {port} on {HOST} is already in use (another server?); "
                                "pick another port, or leave it empty for a free one.")
            self._claimed.add(port)
            return port

    def release_port(self, port: int) -> None:
        with self._lock:
            self._claimed.discard(port)

    def start(self, uri: str, tracking_uri: str, port: int, name: str | None,
              version: str | None) -> ServedEntry:
        """Serve `uri` on a port from `claim_port`; blocks until it answers (or raises
        deploy.serve.ServeError with the server's log tail)."""
        from liminal_jupyter.deploy.serve import serve_model

        entry_id = secrets.token_hex(4)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        entry = ServedEntry(entry_id, name, version, uri, tracking_uri, port,
                            self.log_dir / f"serve-{entry_id}-{port}.log")
        try:
            entry.served = serve_model(uri, tracking_uri, host=HOST, port=port,
                                       log_path=entry.log_path, timeout=SERVE_TIMEOUT)
        finally:
            self.release_port(port)
        with self._lock:
            self._entries[entry_id] = entry
        self._record(entry)
        return entry

    def _record(self, entry: ServedEntry) -> None:
        from liminal_jupyter.atomic import write_json
        from liminal_jupyter.runs.store import process_start_time

        if self.records_dir is None or entry.served is None:
            return
        pid = entry.served.process.pid
        write_json(self.records_dir / f"{entry.id}.json", {
            "pid": pid, "start_time": process_start_time(pid), "port": entry.port,
            "uri": entry.uri, "owner_pid": os.getpid(),
            "owner_start_time": process_start_time(os.getpid())})

    def list(self) -> list[dict[str, Any]]:
        """The servers still running, each with `answers` (its /ping right now); ended ones
        are forgotten (and reaped)."""
        with self._lock:
            entries = list(self._entries.values())
        listed = []
        for entry in entries:
            if entry.alive():
                answers = answers_ping(f"http://{HOST}:{entry.port}/ping")
                listed.append({**entry.to_json(), "answers": answers})
            else:
                self.stop(entry.id)
        return listed

    def stop(self, entry_id: str) -> ServedEntry | None:
        """Stop one server's whole process group; None when there is no such server."""
        with self._lock:
            entry = self._entries.pop(entry_id, None)
        if entry is not None and entry.served is not None:
            stop_process_group(entry.served.process)
        if entry is not None and self.records_dir is not None:
            (self.records_dir / f"{entry.id}.json").unlink(missing_ok=True)
        return entry

    def stop_all(self) -> int:
        """Stop every server this Jupyter server started (its shutdown), and remove their
        logs; how many were running."""
        with self._lock:
            ids = list(self._entries)
        stopped = sum(1 for entry_id in ids if self.stop(entry_id) is not None)
        shutil.rmtree(self.log_dir, ignore_errors=True)
        return stopped


def stop_orphans(records_dir: Path) -> list[str]:
    """Stop the scoring servers whose Jupyter server died without stopping them; one line
    per server stopped, for the log. A record whose owner still runs (another Jupyter server
    sharing the runtime dir) is left alone; one whose scoring server is gone is removed."""
    import signal

    from liminal_jupyter.runs.store import process_alive

    stopped = []
    for path in sorted(records_dir.glob("*.json")) if records_dir.is_dir() else []:
        try:
            record = json.loads(path.read_text())
            pid, owner = int(record["pid"]), int(record["owner_pid"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: nothing in it can be trusted
            continue
        if process_alive(owner, record.get("owner_start_time")):
            continue
        if process_alive(pid, record.get("start_time")):
            _stop_group(pid, signal.SIGTERM, 15.0) or _stop_group(pid, signal.SIGKILL, 5.0)
            stopped.append(f"pid {pid}, port {record.get('port')}, {record.get('uri')}")
        path.unlink(missing_ok=True)
    return stopped


def _stop_group(pid: int, sig: int, wait: float) -> bool:
    """Signal process group `pid`; whether it is gone within `wait` seconds."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
