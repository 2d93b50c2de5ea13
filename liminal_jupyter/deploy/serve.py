"""Serving a model as a local REST service: MLflow's own scoring server, started and checked.

`mlflow models serve --env-manager local` is what MLflow users run; this wraps it so that a
port in use is a clear error before anything starts, the command returns only once the
server answers, and the server (with its worker processes) is stopped as one process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT = 180.0


class ServeError(Exception):
    """The model could not be served; the message says why and what to do."""


@dataclass
class ServedModel:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def invocations_url(self) -> str:
        return f"{self.url}/invocations"

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and every process it started."""
        stop_process_group(self.process, timeout)


def port_in_use(host: str, port: int) -> bool:
    """Whether a server could not listen there. With SO_REUSEADDR, as uvicorn binds: a
    port left in TIME_WAIT by a closed connection is free for a new server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def serve_model(model_uri: str, tracking_uri: str, *, host: str = "127.0.0.1",
                port: int = 5001, log_path: Path | None = None,
                timeout: float = READY_TIMEOUT) -> ServedModel:
    """Start MLflow's scoring server for `model_uri` and wait until it answers /ping."""
    if port_in_use(host, port):
        raise ServeError(f"port {port} on {host} is already in use (another server?); "
                         "pick a free one with --port")
    log_path = log_path or Path(os.environ.get("TMPDIR", "/tmp")) / f"liminal-serve-{port}.log"
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow_cli)] if mlflow_cli.exists() else [sys.executable, "-m", "mlflow"]
    command += ["models", "serve", "-m", model_uri, "--env-manager", "local",
                "--host", host, "--port", str(port), "--workers", "1"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri,
                 "MLFLOW_DISABLE_TELEMETRY": "true",
                 # MLflow starts `uvicorn` by name: find this environment's, activated or not.
                 "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                          os.environ.get("PATH", "")])},
        )
    served = ServedModel(process, host, port, log_path)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ServeError(f"the model server exited ({process.returncode}) before it "
                             f"answered:\n{_tail(log_path)}")
        if answers(f"{served.url}/ping"):
            return served
        if time.monotonic() > deadline:
            served.stop()
            raise ServeError(f"the model server did not answer within {timeout:.0f} s:\n"
                             f"{_tail(log_path)}")
        time.sleep(0.5)


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers that outlived their parent
    except ProcessLookupError:
        pass
    if process.returncode is None:
        process.wait(timeout=5)


def answers(url: str) -> bool:
    """Whether an HTTP GET of `url` gets 200 now (a scoring server's /ping)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])
