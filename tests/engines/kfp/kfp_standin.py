"""A stand-in Kubeflow Pipelines API server on 127.0.0.1, for tests of submit and watch.

No Kubernetes cluster can run where these tests run, so this is a contract test of the
documented KFP REST v2beta1 API (the one `kfp.Client` of kfp 2.x speaks), not of a real
deployment. It implements exactly the endpoints `kfp.Client` calls for the submit and watch
flows (found by running kfp.Client against it and logging its requests):

    GET  /apis/v2beta1/healthz                 {"multi_user": false}
    GET  /apis/v2beta1/experiments?filter=...  list, filtered by display_name (EQUALS)
    POST /apis/v2beta1/experiments             create an experiment
    POST /apis/v2beta1/runs                    create a run (pipeline_spec + runtime_config)
    GET  /apis/v2beta1/runs/{run_id}           a run; `state` advances on each GET:
                                               PENDING -> RUNNING -> the final state
                                               (with `task_by_task`, RUNNING once per
                                               task, its tasks ending one GET at a time)
    GET  /apis/v2beta1/runs                    list runs
    POST /apis/v2beta1/runs/{run_id}:terminate a running run becomes CANCELED (its task
                                               running then too); {} (KFP: 404 unknown run,
                                               400 when it had ended)
    POST /apis/v2beta1/pipelines/upload        accept a pipeline package (multipart)

Errors use the grpc-gateway body KFP returns: {"error", "code", "message", "details"}.
Set `token` to require `Authorization: Bearer <token>` (else 401); set `fail_runs` (run
display names) or `outcome` to make runs end FAILED with `failure_message`. Every request
is recorded in `requests` (method, path, query, headers, parsed JSON body).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/apis/v2beta1"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: Any


@dataclass
class _Run:
    data: dict[str, Any]
    states: list[str]
    error: str | None = None
    gets: int = 0


@dataclass
class KfpStandin:
    """Start with `with KfpStandin() as kfp:`; `kfp.url` is the host to pass to the client."""

    token: str | None = None
    outcome: str = "SUCCEEDED"
    task_by_task: bool = False
    fail_runs: set[str] = field(default_factory=set)
    failure_message: str = "task 'train' failed: exit status 1"
    requests: list[Request] = field(default_factory=list)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, _Run] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life ---------------------------------------------------------------------------
    def __enter__(self) -> KfpStandin:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- helpers for tests --------------------------------------------------------------
    def add_experiment(self, name: str) -> str:
        experiment_id = str(uuid.uuid4())
        self.experiments[experiment_id] = {
            "experiment_id": experiment_id, "display_name": name, "namespace": "",
            "created_at": _now(), "storage_state": "AVAILABLE"}
        return experiment_id

    def created_runs(self) -> list[dict[str, Any]]:
        """The bodies of POST /runs, in order."""
        return [r.body for r in self.requests if r.method == "POST" and r.path == f"{API}/runs"]

    def paths(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    # -- the API ------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]],
               body: Any) -> tuple[int, Any]:
        with self._lock:
            if path == f"{API}/healthz" and method == "GET":
                return 200, {"multi_user": False}
            if path == f"{API}/experiments":
                return self._experiments(method, query, body)
            if path == f"{API}/runs":
                return self._runs(method, body)
            if path.startswith(f"{API}/runs/") and path.endswith(":terminate") and \
                    method == "POST":
                return self._terminate(path.rsplit("/", 1)[1].removesuffix(":terminate"))
            if path.startswith(f"{API}/runs/") and method == "GET":
                return self._get_run(path.rsplit("/", 1)[1])
            if path == f"{API}/pipelines/upload" and method == "POST":
                pipeline_id = str(uuid.uuid4())
                name = (query.get("name") or ["pipeline"])[0]
                return 200, {"pipeline_id": pipeline_id, "display_name": name,
                             "created_at": _now()}
            return _error(404, 5, f"no route for {method} {path}")

    def _experiments(self, method: str, query: dict[str, list[str]],
                     body: Any) -> tuple[int, Any]:
        if method == "POST":
            if not isinstance(body, dict) or not body.get("display_name"):
                return _error(400, 3, "experiment display_name is required")
            experiment_id = self.add_experiment(body["display_name"])
            return 200, self.experiments[experiment_id]
        found = list(self.experiments.values())
        for raw in query.get("filter", []):
            for predicate in json.loads(raw).get("predicates", []):
                if predicate.get("key") == "display_name":
                    wanted = predicate.get("stringValue", predicate.get("string_value"))
                    found = [e for e in found if e["display_name"] == wanted]
        return 200, ({"experiments": found, "total_size": len(found)} if found else {})

    def _runs(self, method: str, body: Any) -> tuple[int, Any]:
        if method == "GET":
            runs = [self._view(run) for run in self.runs.values()]
            return 200, ({"runs": runs, "total_size": len(runs)} if runs else {})
        if not isinstance(body, dict) or not body.get("pipeline_spec"):
            return _error(400, 3, "a run needs a pipeline_spec (or a pipeline version)")
        if body.get("experiment_id") and body["experiment_id"] not in self.experiments:
            return _error(404, 5, f"experiment {body['experiment_id']} not found")
        run_id = str(uuid.uuid4())
        name = body.get("display_name", "")
        final = "FAILED" if name in self.fail_runs else self.outcome
        data = {**body, "run_id": run_id, "created_at": _now(), "state": "PENDING",
                "storage_state": "AVAILABLE"}
        running = ["RUNNING"] * (len(_tasks(data)) if self.task_by_task else 1)
        self.runs[run_id] = _Run(data, ["PENDING", *running, final],
                                 self.failure_message if final != "SUCCEEDED" else None)
        return 200, self._view(self.runs[run_id])

    def _get_run(self, run_id: str) -> tuple[int, Any]:
        run = self.runs.get(run_id)
        if run is None:
            return _error(404, 5, f"Failed to get run: ResourceNotFoundError: Run {run_id} "
                          "not found")
        run.gets += 1
        return 200, self._view(run)

    def _terminate(self, run_id: str) -> tuple[int, Any]:
        run = self.runs.get(run_id)
        if run is None:
            return _error(404, 5, f"Failed to terminate run: Run {run_id} not found")
        now = self._view(run)["state"]
        if now in ("SUCCEEDED", "FAILED", "CANCELED"):
            return _error(400, 9, f"Failed to terminate run {run_id}: it is {now}")
        run.states = run.states[:max(run.gets, 1)] + ["CANCELED"]
        run.error = "the run was terminated"
        return 200, {}

    def _view(self, run: _Run) -> dict[str, Any]:
        state = run.states[min(run.gets, len(run.states)) - 1] if run.gets else run.states[0]
        view = {**run.data, "state": state}
        names = _tasks(run.data)
        if state == "RUNNING" and self.task_by_task:  # GET 2 runs the first task, ...
            done = run.gets - 2
            view["run_details"] = {"task_details": [
                {"display_name": name, "state": "SUCCEEDED" if n < done else "RUNNING"}
                for n, name in enumerate(names[:done + 1])]}
        if state in ("SUCCEEDED", "FAILED", "CANCELED"):
            view["finished_at"] = _now()
            details = [{"display_name": name, "state": "SUCCEEDED"} for name in names]
            if state != "SUCCEEDED" and details:
                details[-1]["state"] = state
            view["run_details"] = {"task_details": details}
            if run.error:
                view["error"] = {"code": 2, "message": run.error}
        return view


def _tasks(data: dict[str, Any]) -> list[str]:
    """The display names of a submitted pipeline's tasks in an order KFP could run them
    (dependencies first; the spec's keys are sorted by name)."""
    from graphlib import TopologicalSorter

    tasks = data.get("pipeline_spec", {}).get("root", {}).get("dag", {}).get("tasks", {})
    graph = {key: task.get("dependentTasks", []) for key, task in tasks.items()}
    return [tasks[key].get("taskInfo", {}).get("name", key)
            for key in TopologicalSorter(graph).static_order()]


def _error(status: int, code: int, message: str) -> tuple[int, Any]:
    return status, {"error": message, "code": code, "message": message, "details": []}


class _Handler(BaseHTTPRequestHandler):
    owner: KfpStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (stdlib name)
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw and "json" in (self.headers.get("Content-Type") or ""):
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        elif raw:
            body = raw
        owner = self.owner
        owner.requests.append(Request(method, parts.path, parse_qs(parts.query),
                                      {k.lower(): v for k, v in self.headers.items()}, body))
        if owner.token is not None and self.headers.get("Authorization") != \
                f"Bearer {owner.token}":
            status, payload = _error(401, 16, "Unauthenticated: a valid bearer token is "
                                     "required")
        else:
            status, payload = owner.handle(method, parts.path, parse_qs(parts.query), body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")
