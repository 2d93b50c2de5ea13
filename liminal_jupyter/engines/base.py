"""The one interface every engine implements, and the records that cross it.

An engine takes the pipeline IR somewhere: this machine's runner, `kfp.local`, `airflow
dags test`, a Kubeflow Pipelines host. The faces (the CLI, the Jupyter server, the Python
API, the panel) know engines only through this interface and the registry
(`engines.registry`), so a new engine (Argo, Vertex AI, a test double) is one entry point,
not an `if` in five files.

An engine says what it can do (`Capabilities`); a face offers only that. Runs of every
engine are recorded in the runs ledger (`liminal_jupyter.runs`), which is how `runs`,
`show`, `logs` and the panel see them without knowing the engine.

Only the standard library here: the CLI builds its help from the registry, and
`liminal-nb --help` stays fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from liminal_jupyter.runs.store import RunStore


class EngineRefused(Exception):
    """The run cannot start (invalid notebook, unknown parameter, engine not installed,
    compile error); nothing was recorded. The message says what to do."""


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do; the faces offer exactly this (docs/engines.md)."""

    remote: bool = False  # runs elsewhere, over a host's API (submit), not on this machine
    run: bool = True  # runs to its end from here (`liminal-nb run --backend NAME`)
    submit: bool = False  # hands the run to a host and returns (`liminal-nb submit`)
    compile: bool = False  # writes a file another system runs (`liminal-nb compile`)
    resume: bool = False  # `--resume RUN` re-runs only what failed or never ran
    cancel: bool = True  # a running run can be stopped
    cache: bool = False  # unchanged steps are reused from earlier runs
    models: bool = False  # `model:` variables are registered in MLflow by the run
    logs: bool = True  # each step's log is readable (`liminal-nb logs`)
    partial: bool = False  # `--from/--to/--only` run part, reusing earlier outputs

    def to_json(self) -> dict[str, bool]:
        return asdict(self)


@dataclass
class RunRequest:
    """One run as a face asks for it; an engine reads what it supports (its Capabilities)
    and the faces refuse the rest before asking."""

    notebook: Path
    parameters: dict[str, Any] = field(default_factory=dict)  # typed (params.resolve)
    run_id: str | None = None  # reserved by a launcher, else the engine reserves one
    resume: str | None = None
    jobs: int = 1
    use_cache: bool = True
    fresh_kernels: bool = False
    kernel: str | None = None  # local: the kernel for every step instead of the notebook's
    html: bool = True  # local: executed.html beside each step's executed notebook
    tracking: bool = True
    tracking_uri: str | None = None
    experiment: str | None = None
    image: str | None = None
    pipeline: Any = None  # the notebook's Pipeline when the face parsed it already
    # A partial run (engines/local/partial.py): --from STEP, --to STEP, --only A,B.
    from_step: str | None = None
    to_step: str | None = None
    only: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """How a run ended: 'succeeded', 'failed', 'cancelled' or 'interrupted'."""

    run_id: str
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)  # every step's, in run order
    message: str | None = None
    warnings: list[str] = field(default_factory=list)  # tolerated failures (tracking off)


@runtime_checkable
class Engine(Protocol):
    """An engine. `name` is what users type (`--backend NAME`, `--target NAME`);
    `description` is the one line the CLI's help and the panel's selector show.

    What else it has follows from its capabilities:
    - run: `run(request: RunRequest, reporter: Reporter) -> RunResult` runs the pipeline
      to its end, recorded in the runs ledger, its progress on `reporter`. It raises
      EngineRefused when it cannot start (nothing recorded) and KeyboardInterrupt, after
      recording the run 'cancelled', when interrupted (Ctrl-C, or SIGTERM from a launcher).
    - compile: `add_compile_arguments(parser) -> (help, epilog)` adds the options of
      `liminal-nb compile --target NAME`; `compile_from_args(args, pipeline, notebook)`
      writes the file and returns the exit status.
      `compile_file(pipeline, image) -> CompiledFile` compiles to text without writing
      anything beside the notebook (the server's POST /liminal/compile).
    - submit: `submit_options() -> list[SubmitOption]` says what a host needs (its URL,
      a folder, credentials, which of them are secret), so the CLI, the panel's form and
      the Python API ask for exactly that; `submit(SubmitRequest) -> Submission` hands the
      run to the host and records it in the runs ledger (backend = the engine's name, `host`
      and `remote_id` set, no secret recorded). It raises SubmitFailed (one line; `invalid`
      when the request is at fault, else the host is) and EngineRefused (bad notebook).
      `run_url(host, remote_id)` is the run's page in the host's own UI, when it has one.
      Secrets given to `submit` are kept in this process's memory for that host
      (engines/secrets.py), so following the run from the same process needs them once.
    - any engine may have `add_commands(subparsers)` for commands of its own (kfp: submit,
      watch).
    Every engine has `status(store, run_id) -> str` (a remote engine asks its host first),
    and, as its capabilities say, `cancel(store, run_id) -> bool`, `logs(store, run_id,
    step) -> str | None` and `follow(store, run_id, on_change, interval) -> str`. An engine
    that runs on this machine gets them from `LedgerEngine`: the runs ledger knows.
    """

    name: str
    description: str
    capabilities: Capabilities


class LedgerEngine:
    """What an engine that runs on this machine, through `liminal-nb run`, has without
    writing it: its runs record themselves as they go, so their state and logs are the runs
    ledger's, and cancelling one is a SIGTERM to its runner (runs/launch.py)."""

    def status(self, store: RunStore, run_id: str) -> str:
        return store.get_run(run_id).status

    def cancel(self, store: RunStore, run_id: str) -> bool:
        """Stop a running run (finished steps are kept); False when it is not running."""
        from liminal_jupyter.runs.launch import cancel_run

        return cancel_run(store, run_id)

    def logs(self, store: RunStore, run_id: str, step: str) -> str | None:
        record = store.get_step(run_id, step)
        log = Path(record.log_path) if record.log_path else None
        if log is None or not log.is_file():
            return None
        return log.read_text(encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class SubmitOption:
    """One host setting an engine's submit reads (`SubmitRequest.settings[name]`): the
    panel draws a field of it (a password input when `secret`), the CLI has `--name`."""

    name: str
    label: str
    help: str = ""
    secret: bool = False  # never recorded, never remembered by the panel
    required: bool = False  # unless the notebook's metadata or the environment gives it
    placeholder: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SubmitRequest:
    """A run handed to a host: the notebook's valid pipeline, typed parameter values and
    the host settings (`submit_options()` names; empty strings count as not given)."""

    notebook: Path
    pipeline: Any
    values: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    run_name: str | None = None
    on_wait: Any = None  # called with a line to show while the host gets ready
    # The CLI's engine-specific options beyond the host settings (kfp: cookies, namespace,
    # create_experiment, workspace_uri, install_runtime, index_urls; airflow: dag_id,
    # parse_timeout); an engine reads the ones it knows.
    options: dict[str, Any] = field(default_factory=dict)

    def setting(self, name: str) -> Any:
        value = self.settings.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else (
            None if isinstance(value, str) else value)


@dataclass
class Submission:
    """A submitted run: the ledger's id ('' when it could not be recorded), the host's id,
    the run's page in the host's UI, and what to tell the user."""

    run_id: str
    remote_id: str
    host: str
    url: str | None = None
    summary: str = ""  # one line: what was submitted where
    done: list[str] = field(default_factory=list)  # what else was done (an experiment made)
    notes: list[str] = field(default_factory=list)
    store_warning: str | None = None
    store_root: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id or None, "remote_id": self.remote_id,
                "host": self.host, "url": self.url, "summary": self.summary,
                "notes": list(self.notes), "message": self.store_warning}


class SubmitFailed(Exception):
    """The host refused or could not be reached; one line. `invalid`: the request was at
    fault (a bad setting, an unknown experiment), so the CLI exits 2 and the server says
    400; otherwise the host was (exit 1, 502)."""

    def __init__(self, message: str, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


@dataclass
class CompiledFile:
    """A compiled pipeline as a download: its file name, its text, its media type."""

    name: str
    text: str
    media_type: str
    notes: list[str] = field(default_factory=list)


def describe(engine: Engine) -> dict[str, Any]:
    """An engine as `GET /liminal/status` and the panel see it (with its submit options
    when it submits)."""
    data: dict[str, Any] = {"name": engine.name, "description": engine.description,
                            "capabilities": engine.capabilities.to_json()}
    if engine.capabilities.submit:
        data["submit_options"] = [o.to_json() for o in engine.submit_options()]  # type: ignore[attr-defined]
    return data
