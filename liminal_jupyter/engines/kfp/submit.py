"""Submit a notebook's pipeline to a Kubeflow Pipelines cluster and follow its runs.

Everything goes through kfp's own client (`kfp.Client`, REST v2beta1): the pipeline is
compiled with `compile_pipeline` to a temporary YAML, the experiment is looked up (and
created unless told not to), and the run is created from the package with typed runtime
parameters. The run is recorded in the notebook folder's run store (backend 'kfp', `host`
the KFP URL, `remote_id` the KFP run id, no local runner process), so `liminal-nb runs`
lists it next to local runs; `follow` polls it and records its end.

kfp, kfp_server_api and urllib3 are imported when a function runs, never at import time.
Errors the user can meet (host unreachable, refused credentials, unknown run or
experiment) become `KfpError` with a one-line message and the exit status to use.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liminal_jupyter.pipeline import Pipeline
    from liminal_jupyter.runs.store import RunStore

EXIT_FAILED, EXIT_INVALID = 1, 2
TOKEN_ENV = "KF_PIPELINES_TOKEN"
BACKEND = "kfp"

FINAL_STATES = {"SUCCEEDED": "succeeded", "FAILED": "failed", "ERROR": "failed",
                "SKIPPED": "failed", "CANCELED": "cancelled", "CANCELLED": "cancelled"}
"""KFP run states that end a run, and the run-store status each is recorded as."""

_TASK_STATES = {"PENDING": "waiting", "RUNNING": "running", "SUCCEEDED": "succeeded",
                "SKIPPED": "skipped", "FAILED": "failed", "CANCELING": "running",
                "CANCELED": "interrupted", "CACHED": "cached"}


class KfpError(Exception):
    """A one-line message for the user, and the exit status (1 failure, 2 bad input)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Submitted:
    run_id: str  # the run store's id
    remote_id: str  # the KFP run id
    url: str  # the KFP UI page of the run
    experiment: str
    experiment_created: bool
    store_root: Path | None
    notes: list[str] = field(default_factory=list)
    store_warning: str | None = None


# -- connecting --------------------------------------------------------------------------
def resolve_token(token: str | None) -> str | None:
    """--token, else $KF_PIPELINES_TOKEN, else None (kfp then uses its own context config)."""
    return token or os.environ.get(TOKEN_ENV) or None


def run_url(host: str, remote_id: str) -> str:
    return f"{host.rstrip('/')}/#/runs/details/{remote_id}"


def connect(host: str, token: str | None = None, cookies: str | None = None,
            namespace: str | None = None) -> Any:
    """A `kfp.Client` for `host`; KfpError when it cannot be reached or refuses us.

    kfp.Client checks the server's healthz when it starts (when no namespace is
    configured) and retries a refusal five times, 5 s apart; here that check is made once,
    so a wrong token fails at once with a clear message.
    """
    import kfp

    class _Client(kfp.Client):
        def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:  # noqa: ARG002
            return self._healthz_api.healthz_service_get_healthz()

    _quiet_logging()
    kwargs: dict[str, Any] = {"host": host, "existing_token": resolve_token(token),
                              "cookies": cookies}
    if namespace:
        kwargs["namespace"] = namespace
    with _translated(host), warnings.catch_warnings(), _kfp_prints():
        warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP 2.0.0b2+"
        return _Client(**kwargs)


@contextlib.contextmanager
def _translated(host: str, run_id: str | None = None) -> Iterator[None]:
    """Turn kfp / HTTP failures into one-line KfpErrors."""
    import urllib3
    from kfp_server_api.exceptions import ApiException

    try:
        yield
    except ApiException as exc:
        status = exc.status or 0
        if status in (401, 403):
            raise KfpError(f"KFP at {host} refused the credentials (HTTP {status}): pass "
                           f"--token or set {TOKEN_ENV}") from None
        if status == 404 and run_id is not None:
            raise KfpError(f"KFP at {host} has no run {run_id!r}: check the run id "
                           "(`liminal-nb runs` lists submitted runs)", EXIT_INVALID) from None
        if status == 0:
            raise KfpError(f"cannot reach KFP at {host}: {_one_line(exc.reason)}") from None
        raise KfpError(f"KFP at {host} answered HTTP {status}: "
                       f"{_server_message(exc)}") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KfpError(f"cannot reach KFP at {host}: {_connection_reason(exc)}") from None


def _connection_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    for marker in ("Failed to establish a new connection: ", "): "):
        if marker in text:
            text = text.split(marker, 1)[1]
            break
    return _one_line(text.rstrip("')\""))


def _server_message(exc: Any) -> str:
    import json

    try:
        body = json.loads(exc.body or "")
        message = body.get("message") or body.get("error")
    except (ValueError, TypeError, AttributeError):
        message = None
    return _one_line(message or exc.reason or "no message")


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _quiet_logging() -> None:
    """kfp logs retries and links through the root logger; keep the terminal to our lines."""
    for name in ("urllib3", "kfp", "kfp_server_api"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _kfp_prints() -> Iterator[None]:
    """kfp.Client prints 'Experiment details: URL' and 'Run details: URL'; we print our own."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _check_model(value: Any, kind: str, host: str) -> Any:
    """A login page (Dex, IAP) answered instead of the API: kfp returns its text as-is."""
    if isinstance(value, (str, bytes)) or value is None:
        raise KfpError(f"KFP at {host} did not answer as the KFP API while {kind} (a login "
                       f"page?): pass --token or --cookies, or set {TOKEN_ENV}")
    return value


# -- submit ------------------------------------------------------------------------------
def default_experiment(pipeline: Pipeline) -> str:
    return str(pipeline.settings.get("experiment") or pipeline.name)


def submit(
    notebook: str | Path,
    pipeline: Pipeline,
    host: str,
    values: dict[str, Any],
    *,
    experiment: str | None = None,
    run_name: str | None = None,
    token: str | None = None,
    cookies: str | None = None,
    namespace: str | None = None,
    image: str | None = None,
    create_experiment: bool = True,
    client: Any = None,
    workspace_uri: str | None = None,
    install_runtime: bool | None = None,
    index_urls: list[str] | None = None,
) -> Submitted:
    """Compile, create the run on KFP, record it in the store; KfpError / CompileError.

    workspace_uri, install_runtime, index_urls: as for `compile_pipeline`."""
    from liminal_jupyter.engines.kfp.compile import compile_pipeline

    notebook = Path(notebook)
    host = host.rstrip("/")
    experiment = experiment or default_experiment(pipeline)
    run_name = run_name or f"{pipeline.name} {time.strftime('%Y-%m-%d %H-%M-%S')}"
    with tempfile.TemporaryDirectory(prefix="liminal-submit-") as tmp:
        yaml_path = Path(tmp) / f"{pipeline.name}.pipeline.yaml"
        result = compile_pipeline(pipeline, yaml_path, image=image, workspace_uri=workspace_uri,
                                  install_runtime=install_runtime, index_urls=index_urls)
        if client is None:
            client = connect(host, token, cookies, namespace)
        experiment_id, created = _experiment(client, host, experiment, create_experiment)
        with _translated(host), _kfp_prints():
            run = client.run_pipeline(experiment_id=experiment_id, job_name=run_name,
                                      pipeline_package_path=str(yaml_path), params=values)
    remote_id = _check_model(run, "creating the run", host).run_id
    submitted = Submitted("", remote_id, run_url(host, remote_id), experiment, created,
                          None, list(result.notes))
    try:
        store = store_for(notebook)
        submitted.run_id = store.new_run_id()
        store.create_run(submitted.run_id, notebook, pipeline.name, BACKEND, values,
                         pipeline.order(), runner_pid=None, host=host,
                         remote_id=remote_id,
                         message=f"KFP experiment {experiment!r}, run {run_name!r}")
        submitted.store_root = store.root
    except Exception as exc:  # the run exists on KFP whatever happens to our record
        submitted.store_warning = f"could not record the run in the run store: {exc}"
    return submitted


def _experiment(client: Any, host: str, name: str, create: bool) -> tuple[str, bool]:
    """(experiment id, whether it was created now)."""
    with _translated(host), _kfp_prints():
        try:
            found = client.get_experiment(experiment_name=name,
                                          namespace=client.get_user_namespace() or None)
            return _check_model(found, "looking up the experiment", host).experiment_id, False
        except ValueError as exc:
            if not str(exc).startswith("No experiment is found"):
                raise KfpError(f"KFP at {host}: {exc}") from None
        if not create:
            raise KfpError(f"KFP at {host} has no experiment {name!r}: create it in the KFP "
                           "UI, pick another with --experiment, or drop "
                           "--no-create-experiment", EXIT_INVALID)
        made = client.create_experiment(name)
        return _check_model(made, "creating the experiment", host).experiment_id, True


# -- the run store -----------------------------------------------------------------------
def store_for(path: str | Path) -> RunStore:
    """The run store of a notebook (path ending .ipynb) or of a folder."""
    from liminal_jupyter.runs.location import run_store_for

    return run_store_for(path)


def find_record(folder: str | Path, run_id: str) -> tuple[RunStore, Any] | None:
    """(store, record) of a submitted run in `folder`, by KFP run id or store run id."""
    store = store_for(folder)
    if not store.db_path.exists():
        return None
    for record in store.list_runs(limit=10_000):
        if record.backend == BACKEND and run_id in (record.remote_id, record.run_id):
            return store, record
    return None


# -- watch -------------------------------------------------------------------------------
@dataclass
class RunState:
    state: str
    error: str | None
    tasks: dict[str, str]  # task display name -> KFP state

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def get_state(client: Any, host: str, remote_id: str) -> RunState:
    with _translated(host, run_id=remote_id):
        run = client.get_run(remote_id)
    run = _check_model(run, "reading the run", host)
    state = _enum_text(run.state) or "PENDING"
    error = getattr(run.error, "message", None) if run.error is not None else None
    tasks: dict[str, str] = {}
    details = getattr(run.run_details, "task_details", None) if run.run_details else None
    for task in details or []:
        if task.display_name:
            tasks[task.display_name] = _enum_text(task.state) or "PENDING"
    return RunState(state, error, tasks)


def _enum_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value)).upper()


def follow(client: Any, host: str, remote_id: str, interval: float,
           on_change: Callable[[RunState], None],
           sleep: Callable[[float], None] | None = None) -> RunState:
    """Poll the run every `interval` s, calling `on_change` on each new state, to its end."""
    last: RunState | None = None
    while True:
        current = get_state(client, host, remote_id)
        if last is None or (current.state, current.tasks) != (last.state, last.tasks):
            on_change(current)
        last = current
        if current.final:
            return current
        (sleep or time.sleep)(interval)


def terminate(client: Any, host: str, remote_id: str) -> None:
    """Ask KFP to stop the run (REST v2beta1 `POST /runs/{id}:terminate`)."""
    with _translated(host, run_id=remote_id), _kfp_prints():
        client.terminate_run(remote_id)


def record_state(store: RunStore, run_id: str, state: RunState) -> None:
    """Mirror a KFP run's state in the run store (its steps by task name, its end)."""
    steps = {s.step: s for s in store.steps(run_id)}
    now = time.time()
    for name, task_state in state.tasks.items():
        status = _TASK_STATES.get(task_state)
        record = steps.get(name)
        if status and record and record.status != status:
            fields: dict[str, Any] = {"status": status}
            if status == "running" and record.started is None:
                fields["started"] = now
            if status not in ("waiting", "running"):
                fields["ended"] = now
            store.update_step(run_id, name, **fields)
    if not state.final:
        return
    status = FINAL_STATES[state.state]
    if status == "succeeded":  # a KFP run succeeds only when all its tasks did
        for name, record in steps.items():
            if record.status in ("waiting", "running") and name not in state.tasks:
                store.update_step(run_id, name, status="succeeded", ended=now)
    store.finish_run(run_id, status, state.error if status != "succeeded" else None)
