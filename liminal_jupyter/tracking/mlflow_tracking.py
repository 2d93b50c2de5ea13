"""MLflow tracking of a local run: the run is an MLflow run, each step a nested run.

The local runner calls a tracker from its own process only (never from a step's kernel):
`start` when the run begins, `step_finished` as each step's outcome arrives, `finish` at
the end. What gets recorded, and why:

- the run's parameter values on the parent run, so runs can be compared in the MLflow UI;
- per step, a nested run (tag `mlflow.parentRunId`) with the step's duration (`duration_s`),
  its `metrics` cell values, its status and whether it came from the cache, and the executed
  step notebook as an artifact, so a number can always be traced to the code that made it;
- the metrics also on the parent run under their plain names (they are unique per pipeline),
  so the experiment's run table shows them without opening the steps;
- each `model:VAR` as an MLflow model with the right flavor (scikit-learn when it is an
  estimator, else a python-function wrapper around the object's `predict` or call) and an
  input example taken from the step's data, so it can be registered and served as is.

Tracking must never cost the user their run. A tracking server that is down is found by a
2-second `/health` probe before anything else, and makes the tracker say so once (a
`TrackingWarning`, also kept in `disabled_reason`) and turn every later call into a no-op.
Any other MLflow failure while logging a step becomes a warning; the run goes on.

Why the client API with explicit run ids rather than MLflow's fluent API (`mlflow.start_run`):
steps finish in any order, from several runner threads, and the fluent API keeps one
"active run" per thread and one global experiment. Only model logging has no client form in
MLflow 3 (`Model.log` reads the process-global tracking URI), so that part temporarily sets
the global URI under a module lock and is handed a LoggedModel created here in the right
experiment (left to itself, it would file the model under the default experiment).

Importing this module imports no MLflow (a test checks it): `liminal-nb --help` stays fast.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liminal_jupyter.pipeline import Model, Pipeline, Step

DEFAULT_DB_NAME = "mlflow.db"
"""The SQLite file of the default store, inside the project's `.liminal/` directory."""

DEFAULT_ARTIFACTS_DIR = "mlartifacts"
"""Where the default store keeps artifacts, inside `.liminal/` (MLflow would use ./mlruns)."""

HEALTH_TIMEOUT_S = 2.0
"""How long the reachability probe of an http(s) tracking server may take."""

INPUT_EXAMPLE_ROWS = 5
"""Rows of step data kept as a model's input example: enough to show the shape, no more."""

MAX_EXAMPLE_SOURCE_BYTES = 256 * 1024 * 1024
"""Saved values larger than this are not loaded just to cut an input example from them."""

MAX_PARAM_CHARS = 6000
"""MLflow's limit on a parameter value; longer values are cut, with a visible ellipsis."""

# MLflow's HTTP client retries 7 times with exponential backoff by default: minutes of
# waiting for a server that went away mid-run. Used while we call MLflow, unless the user
# set these variables themselves.
_HTTP_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}

_FINISHED_STATUSES = {"finished", "succeeded", "success", "ok", "done", "completed", "cached"}
_KILLED_STATUSES = {"killed", "cancelled", "canceled", "interrupted", "skipped", "stopped"}

# Serialises every MLflow call in the process: model logging changes the process-global
# tracking URI, and the HTTP settings above are environment variables.
_MLFLOW_LOCK = threading.RLock()


REFERENCE_PROFILE = "liminal/reference_profile.json"  # in the run that logged a model


class TrackingWarning(UserWarning):
    """Something could not be recorded in MLflow; the run itself is not affected."""


# --------------------------------------------------------------------------------------
# Where to track.


def default_tracking_uri(liminal_dir: Path) -> str:
    """The local SQLite store used when nothing else is configured."""
    return f"sqlite:///{Path(liminal_dir).resolve() / DEFAULT_DB_NAME}"


def default_artifact_location(liminal_dir: Path) -> str:
    """Artifact root for experiments created in the default store (a file URI)."""
    return (Path(liminal_dir).resolve() / DEFAULT_ARTIFACTS_DIR).as_uri()


def resolve_tracking_uri(cli_uri: str | None, pipeline: Pipeline, liminal_dir: Path) -> str:
    """The tracking URI for a run: `--tracking-uri`, then `MLFLOW_TRACKING_URI`, then the
    notebook's `liminal.mlflow_uri` metadata, else SQLite under `liminal_dir`.

    The most specific wins: a command line beats the shell's environment, which beats what
    the notebook's author chose. Empty values count as unset.
    """
    for candidate in (
        cli_uri,
        os.environ.get("MLFLOW_TRACKING_URI"),
        (pipeline.settings or {}).get("mlflow_uri"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return default_tracking_uri(liminal_dir)


def create_tracker(
    cli_uri: str | None,
    pipeline: Pipeline,
    liminal_dir: Path,
    *,
    enabled: bool = True,
) -> RunTracker | NullTracker:
    """The tracker the runner uses: a NullTracker for `--no-tracking`, else a RunTracker on
    the resolved URI (with artifacts under `liminal_dir` when it is the default store)."""
    if not enabled:
        return NullTracker()
    uri = resolve_tracking_uri(cli_uri, pipeline, liminal_dir)
    location = (
        default_artifact_location(liminal_dir) if uri == default_tracking_uri(liminal_dir) else None
    )
    return RunTracker(uri, artifact_location=location)


def probe_tracking_server(uri: str, timeout: float = HEALTH_TIMEOUT_S) -> str | None:
    """Why an http(s) tracking server cannot be used, or None when it answers.

    A quick GET of `<uri>/health`, so a server that is down costs two seconds instead of
    MLflow's retries. Any HTTP answer, even an error status (an auth proxy, a server without
    /health), proves something is listening, so only connection failures count. Other URI
    schemes (sqlite, file, databricks) are not probed.
    """
    if not uri.lower().startswith(("http://", "https://")):
        return None
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(64)
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"the MLflow tracking server at {uri} is not reachable ({reason})"
    return None


def mlflow_status(status: str) -> str:
    """MLflow's terminal run status (FINISHED, FAILED or KILLED) for a runner status."""
    word = str(status).strip().lower()
    if word in _FINISHED_STATUSES:
        return "FINISHED"
    if word in _KILLED_STATUSES:
        return "KILLED"
    return "FAILED"


# --------------------------------------------------------------------------------------
# Trackers.


class NullTracker:
    """The tracker for `--no-tracking`: same methods as RunTracker, records nothing."""

    tracking_uri: str | None = None
    disabled_reason: str | None = None
    enabled = False
    experiment_id: str | None = None
    parent_run_id: str | None = None
    run_url: str | None = None

    def __init__(self) -> None:
        self.messages: list[str] = []

    def start(
        self,
        pipeline: Pipeline,
        run_id: str,
        parameters: Mapping[str, Any] | None = None,
        experiment: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        return None

    def step_finished(
        self,
        step: Step,
        status: str,
        duration_s: float,
        metrics: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Mapping[str, Any]] | None = None,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        executed_notebook: str | None = None,
        cached: bool = False,
    ) -> dict[str, Any]:
        return {"run_id": None, "models": {}, "registered": {}}

    def promote(self, pipeline: Pipeline, step_states: Mapping[str, str],
                metrics: Mapping[str, Any], notify: Any = None) -> None:
        return None

    def warm_up(self) -> None:
        return None

    def finish(self, status: str) -> None:
        return None


class RunTracker:
    """Records one pipeline run in MLflow. Thread-safe; never raises into the runner.

    Construction does no I/O and imports nothing heavy. `start` probes the server, creates
    (or reuses) the experiment and the parent run. When tracking is impossible,
    `disabled_reason` says why (also emitted once as a TrackingWarning) and every later call
    does nothing. `messages` keeps every warning text so the runner can show a summary.
    """

    def __init__(self, tracking_uri: str, *, artifact_location: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.disabled_reason: str | None = None
        self.messages: list[str] = []
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self.step_runs: dict[str, str] = {}
        self.pipeline_name: str | None = None
        self.registered_versions: dict[str, str] = {}  # registered name -> version, this run
        # What this run registered, one dict a version: name, version, uri, step, variable
        # (the run store keeps it: runs/registered.py); `decision` is the promotion verdict.
        self.registered_models: list[dict[str, str]] = []
        self.decision: Any = None
        self._client: Any = None
        self._started_at: float | None = None
        self._finished = False

    # -- state ----------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.disabled_reason is None

    @property
    def run_url(self) -> str | None:
        """The parent run's page in the MLflow UI, when the store is a tracking server."""
        if not (self.parent_run_id and self.tracking_uri.lower().startswith("http")):
            return None
        base = self.tracking_uri.rstrip("/")
        return f"{base}/#/experiments/{self.experiment_id}/runs/{self.parent_run_id}"

    def _warn(self, message: str) -> None:
        self.messages.append(message)
        warnings.warn(message, TrackingWarning, stacklevel=3)

    def _disable(self, reason: str) -> None:
        if self.disabled_reason is None:
            self.disabled_reason = reason
            self._warn(f"MLflow tracking is off for this run: {reason}. The run goes on.")

    def _after_failure(self, what: str, exc: BaseException) -> None:
        """Warn about one failed log; turn tracking off if the server has gone away."""
        self._warn(f"{what} was not recorded in MLflow: {_describe(exc)}")
        down = probe_tracking_server(self.tracking_uri)
        if down:
            self._disable(down)

    @contextlib.contextmanager
    def _mlflow(self) -> Iterator[Any]:
        """The MlflowClient, with the module lock held and bounded HTTP retries."""
        with _MLFLOW_LOCK, _http_env_defaults():
            if self._client is None:
                from mlflow import MlflowClient

                self._client = MlflowClient(tracking_uri=self.tracking_uri)
            yield self._client

    # -- the run --------------------------------------------------------------------------
    def start(
        self,
        pipeline: Pipeline,
        run_id: str,
        parameters: Mapping[str, Any] | None = None,
        experiment: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Create the parent run (named `run_id`) in the experiment and log parameters.

        The experiment is `experiment` (`--experiment`), else the notebook's
        `liminal.experiment` setting, else the pipeline's name.
        """
        with _MLFLOW_LOCK:
            if self.disabled_reason is not None or self.parent_run_id is not None:
                return
            down = probe_tracking_server(self.tracking_uri)
            if down:
                self._disable(down)
                return
            _prepare_local_store(self.tracking_uri)
            self.pipeline_name = pipeline.name
            name = experiment or (pipeline.settings or {}).get("experiment") or pipeline.name
            try:
                with self._mlflow() as client:
                    self.experiment_id = self._experiment(client, str(name))
                    run = client.create_run(
                        self.experiment_id,
                        run_name=run_id,
                        tags=_parent_tags(pipeline, run_id, tags),
                    )
                    self.parent_run_id = run.info.run_id
                    self._started_at = time.monotonic()
                    _log_params(client, self.parent_run_id, parameters or {})
            except Exception as exc:  # MLflow raises many types; none may stop the run
                self._disable(f"could not start an MLflow run at {self.tracking_uri}: "
                              f"{_describe(exc)}")

    def _experiment(self, client: Any, name: str) -> str:
        """Get or create the experiment; a deleted one of that name is restored."""
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                return client.create_experiment(name, artifact_location=self.artifact_location)
            except Exception:
                found = client.get_experiment_by_name(name)  # created meanwhile elsewhere
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id

    def step_finished(
        self,
        step: Step,
        status: str,
        duration_s: float,
        metrics: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Mapping[str, Any]] | None = None,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        executed_notebook: str | None = None,
        cached: bool = False,
    ) -> dict[str, Any]:
        """Record one step as a nested run.

        Returns {"run_id": nested run id or None, "models": {VAR: model URI},
        "registered": {registered name: "models:/NAME/VERSION"}}.

        May take seconds when the step has models (MLflow infers their requirements), so
        call it off any path that must stay responsive. Never raises.
        """
        result: dict[str, Any] = {"run_id": None, "models": {}, "registered": {}}
        with _MLFLOW_LOCK:
            if self.disabled_reason is not None or self.parent_run_id is None:
                return result
            try:
                nested = self._create_step_run(step, status, cached)
            except Exception as exc:
                self._after_failure(f"step {step.name!r}", exc)
                return result
            result["run_id"] = nested
            self.step_runs[step.name] = nested
            self._log_step_metrics(step, nested, duration_s, metrics or {})
            if executed_notebook and self.disabled_reason is None:
                self._log_notebook(step, nested, executed_notebook)
            if mlflow_status(status) == "FINISHED":
                for model in step.models:
                    if self.disabled_reason is not None:
                        break
                    uri = self._log_model(
                        step, model, nested, outputs or {}, inputs or {}, result["registered"]
                    )
                    if uri:
                        result["models"][model.variable] = uri
            if self.disabled_reason is None:
                try:
                    with self._mlflow() as client:
                        client.set_terminated(nested, mlflow_status(status))
                except Exception as exc:
                    self._after_failure(f"the end of step {step.name!r}", exc)
        return result

    def _create_step_run(self, step: Step, status: str, cached: bool) -> str:
        tags = {
            "mlflow.parentRunId": self.parent_run_id,
            "liminal.step": step.name,
            "liminal.status": str(status),
            "liminal.cached": "true" if cached else "false",
        }
        if step.phase:
            tags["liminal.phase"] = step.phase
        with self._mlflow() as client:
            run = client.create_run(self.experiment_id, run_name=step.name, tags=tags)
        return run.info.run_id

    def _log_step_metrics(
        self, step: Step, nested: str, duration_s: float, metrics: Mapping[str, Any]
    ) -> None:
        """duration_s and the metrics on the step's run, the metrics also on the parent.

        In one batch per run; if MLflow refuses the batch (say, a name it does not allow),
        each metric is tried alone so one bad name does not lose the others.
        """
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        numbers: dict[str, float] = {}
        for name, value in {"duration_s": duration_s, **metrics}.items():
            number = _as_number(value)
            if number is None:
                self._warn(f"metric {name!r} of step {step.name!r} is {value!r}, not a number; "
                           "it was not recorded in MLflow")
            else:
                numbers[str(name)] = number
        own = {k: v for k, v in numbers.items() if k in metrics}
        for run_id, values in ((nested, numbers), (self.parent_run_id, own)):
            if not values or self.disabled_reason is not None:
                continue
            try:
                with self._mlflow() as client:
                    client.log_batch(run_id, metrics=[Metric(k, v, now, 0)
                                                      for k, v in values.items()])
                continue
            except Exception:
                pass
            for name, value in values.items():
                if self.disabled_reason is not None:
                    break
                try:
                    with self._mlflow() as client:
                        client.log_metric(run_id, name, value, timestamp=now)
                except Exception as exc:
                    self._after_failure(f"metric {name!r} of step {step.name!r}", exc)

    def _log_notebook(self, step: Step, nested: str, path: str) -> None:
        if not Path(path).is_file():
            self._warn(f"the executed notebook of step {step.name!r} ({path}) does not exist; "
                       "it was not recorded in MLflow")
            return
        try:
            with self._mlflow() as client:
                client.log_artifact(nested, str(path), artifact_path="notebook")
        except Exception as exc:
            self._after_failure(f"the executed notebook of step {step.name!r}", exc)

    def _log_model(
        self,
        step: Step,
        model: Model,
        nested: str,
        outputs: Mapping[str, Mapping[str, Any]],
        inputs: Mapping[str, Mapping[str, Any]],
        registered: dict[str, str],
    ) -> str | None:
        """Log `model:VAR` with the first flavor that works; warn (never raise) if none does.

        A model with a registered name is then registered (into `registered`); a failed
        registration is a warning and keeps the logged model.
        """
        var = model.variable
        what = f"model {var!r} of step {step.name!r}"
        saved = outputs.get(var)
        if saved is None:
            self._warn(f"{what} was not logged to MLflow: the step saved no variable {var!r} "
                       "(is it assigned in that step?)")
            return None
        try:
            from liminal_jupyter.step.marshal import load_value

            value = load_value(dict(saved))
        except Exception as exc:
            self._warn(f"{what} was not logged to MLflow: {_describe(exc)}")
            return None
        attempts = _flavor_attempts(value)
        if not attempts:
            self._warn(f"{what} was not logged to MLflow: a {_type_name(value)} has no "
                       "predict method and is not callable, so MLflow could not serve it")
            return None
        training = _training_data(value, inputs, outputs, exclude=var)
        example = _input_example(training)
        failures = []
        for label, flavor, kwargs in attempts:
            try:
                if kwargs.get("python_model") is _wrap:
                    kwargs = {**kwargs, "python_model": _wrap(value)}
                if kwargs.get("skops_trusted_types") is _library_types:
                    kwargs = {**kwargs, "skops_trusted_types": _library_types(value)}
                uri = self._log_flavor(step, model, nested, flavor, kwargs, example)
            except Exception as exc:
                failures.append(f"as {label}: {_describe(exc)}")
                continue
            self._log_reference_profile(what, nested, training)
            self._register(what, uri, model.registered_name or self.pipeline_name or var,
                           registered, nested, step=step.name, variable=var)
            return uri
        self._warn(f"{what} was not logged to MLflow ({'; '.join(failures)})")
        if self.disabled_reason is None:
            down = probe_tracking_server(self.tracking_uri)
            if down:
                self._disable(down)
        return None

    def warm_up(self) -> None:
        """Import what logging a model takes, while the steps that build it still run.

        Logging a scikit-learn model imports scikit-learn, skops and MLflow's flavor and
        signature code: seconds that otherwise come after the last step, with the user
        waiting. Imports only: nothing is logged, and a package that is missing is skipped.
        """
        import importlib
        import importlib.util

        if self.disabled_reason is not None:
            return
        for name in MODEL_LOGGING_MODULES:
            if importlib.util.find_spec(name.split(".", 1)[0]) is None:
                continue
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    def _log_reference_profile(self, what: str, nested: str, training: Any) -> None:
        """What `liminal-nb monitor` compares new data with (deploy/drift.py)."""
        if training is None:
            return
        try:
            from liminal_jupyter.deploy.drift import profile

            with self._mlflow() as client:
                client.log_dict(nested, profile(training), REFERENCE_PROFILE)
        except Exception as exc:
            self._warn(f"the training data profile of {what} was not logged (drift "
                       f"monitoring will need --reference): {_describe(exc)}")

    def _register(self, what: str, uri: str, name: str, registered: dict[str, str],
                  run_id: str, step: str = "", variable: str = "") -> None:
        """A new version of registered model `name` from the logged model at `uri`.

        Through the client rather than `mlflow.register_model`, which prints to stderr
        ("Registered model ... already exists") over the run's progress view.
        """
        try:
            from mlflow.exceptions import MlflowException

            # The registry resolves a `models:/m-...` source through the global URI.
            with self._mlflow() as client, _global_tracking_uri(self.tracking_uri):
                try:
                    client.create_registered_model(name)
                except MlflowException as exc:
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                model_id = uri.removeprefix("models:/") if uri.startswith("models:/m-") else None
                version = client.create_model_version(name, uri, run_id=run_id,
                                                      model_id=model_id)
            registered[name] = f"models:/{name}/{version.version}"
            self.registered_versions[name] = str(version.version)
            self.registered_models.append({
                "name": name, "version": str(version.version), "uri": registered[name],
                "step": step, "variable": variable})
        except Exception as exc:
            self._warn(f"{what} was logged ({uri}) but not registered as {name!r}: "
                       f"{_describe(exc)}")

    def _log_flavor(
        self,
        step: Step,
        model: Model,
        nested: str,
        flavor_name: str,
        kwargs: dict[str, Any],
        example: Any,
    ) -> str:
        """One `Model.log` call, into a LoggedModel created here in our experiment."""
        import importlib

        from mlflow.models import Model as MlflowModel

        flavor = importlib.import_module(flavor_name)
        with self._mlflow() as client:
            logged = client.create_logged_model(
                self.experiment_id,
                name=model.variable,
                source_run_id=nested,
                tags={"liminal.step": step.name, "liminal.variable": model.variable},
            )
            try:
                with _global_tracking_uri(self.tracking_uri):
                    info = MlflowModel.log(
                        artifact_path=None,
                        name=model.variable,
                        flavor=flavor,
                        run_id=nested,
                        model_id=logged.model_id,
                        input_example=example,
                        **kwargs,
                    )
            except Exception:
                with contextlib.suppress(Exception):
                    client.delete_logged_model(logged.model_id)
                raise
        return info.model_uri

    def promote(self, pipeline: Pipeline, step_states: Mapping[str, str],
                metrics: Mapping[str, Any], notify: Any = None) -> Any:
        """Give this run's registered model versions the deployment alias if the run passed
        validation (`deploy/gate.py`); record the decision on the parent run and on each
        version (tag `liminal.validation`). Returns the Decision, or None when this run
        registered nothing. `notify(text)` is told the outcome. Never raises.
        """
        from liminal_jupyter.deploy.gate import decide

        with _MLFLOW_LOCK:
            if self.disabled_reason is not None or not self.registered_versions:
                return None
            phases = {step.name: step.phase for step in pipeline.steps}
            decision = decide(pipeline.settings or {}, phases, step_states, metrics)
            self.decision = decision
            verdict = "passed" if decision.allowed else "blocked: " + "; ".join(decision.reasons)
            lines = []
            try:
                with self._mlflow() as client:
                    for name, version in self.registered_versions.items():
                        client.set_model_version_tag(name, version, "liminal.validation",
                                                     verdict[:5000])
                        if decision.allowed:
                            client.set_registered_model_alias(name, decision.alias, version)
                        lines.append(f"model {name} version {version} registered; "
                                     f"{decision.describe()}")
                    client.set_tag(self.parent_run_id, "liminal.deploy", "; ".join(lines)[:5000])
            except Exception as exc:
                self.decision = None  # the alias may not have been set
                self._after_failure("the model's deployment alias", exc)
                return decision
            if notify is not None:
                for line in lines:
                    notify(line)
            return decision

    def finish(self, status: str) -> None:
        """End the parent run as FINISHED, FAILED or KILLED (runner words are mapped)."""
        with _MLFLOW_LOCK:
            if self._finished or self.disabled_reason is not None or self.parent_run_id is None:
                return
            self._finished = True
            try:
                with self._mlflow() as client:
                    if self._started_at is not None:
                        client.log_metric(
                            self.parent_run_id, "duration_s", time.monotonic() - self._started_at
                        )
                    client.set_terminated(self.parent_run_id, mlflow_status(status))
            except Exception as exc:
                self._after_failure("the end of the run", exc)


# --------------------------------------------------------------------------------------
# Helpers.


@contextlib.contextmanager
def _http_env_defaults() -> Iterator[None]:
    """Bounded HTTP retries while we call MLflow, unless the user chose their own."""
    added = [k for k in _HTTP_ENV_DEFAULTS if k not in os.environ]
    for key in added:
        os.environ[key] = _HTTP_ENV_DEFAULTS[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextlib.contextmanager
def _global_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's process-global URI at ours for one call, then put back exactly what
    was there, including the MLFLOW_TRACKING_URI variable (which set_tracking_uri clears)."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    old_uri = getattr(utils, "_tracking_uri", None)
    old_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(old_uri)
        if old_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_env


def _prepare_local_store(uri: str) -> None:
    """SQLite needs the database's directory to exist."""
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def _parent_tags(pipeline: Pipeline, run_id: str, extra: Mapping[str, Any] | None) -> dict:
    tags = {
        "mlflow.source.name": pipeline.notebook,
        "mlflow.source.type": "NOTEBOOK",
        "liminal.notebook": pipeline.notebook,
        "liminal.pipeline": pipeline.name,
        "liminal.run_id": run_id,
    }
    with contextlib.suppress(Exception):
        tags["mlflow.user"] = getpass.getuser()
    if pipeline.description:
        tags["mlflow.note.content"] = pipeline.description
    tags.update({str(k): str(v) for k, v in (extra or {}).items()})
    return tags


def _log_params(client: Any, run_id: str, parameters: Mapping[str, Any]) -> None:
    """Parameter values as strings (JSON for lists and dicts), in MLflow's batches of 100."""
    from mlflow.entities import Param

    params = [Param(str(k), _param_text(v)) for k, v in parameters.items()]
    for start in range(0, len(params), 100):
        client.log_batch(run_id, params=params[start:start + 100])


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 3] + "..."


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number  # NaN and the infinities are kept: MLflow stores them as such


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 300:
        first = first[:297] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _is_sklearn_module(value: Any) -> bool:
    return type(value).__module__.split(".", 1)[0] == "sklearn"


def _flavor_attempts(value: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, flavor module, log kwargs) to try in order, best flavor first.

    A `python_model` given as `_wrap` is wrapped only when that attempt is reached.

    scikit-learn objects first use MLflow's default (skops, safe to load); a pipeline with
    notebook-defined functions may need cloudpickle, as do estimators of other libraries
    that follow the scikit-learn API (fit + predict). Anything with `predict`, or callable,
    can still be served through a python-function wrapper.
    """
    attempts: list[tuple[str, str, dict[str, Any]]] = []
    fits = callable(getattr(value, "fit", None))
    predicts = callable(getattr(value, "predict", None))
    if _is_sklearn_module(value) and fits:
        attempts.append(("scikit-learn", "mlflow.sklearn",
                         {"sk_model": value, "skops_trusted_types": _library_types}))
    if fits and predicts:
        attempts.append((
            "scikit-learn (cloudpickle)",
            "mlflow.sklearn",
            {"sk_model": value, "serialization_format": "cloudpickle"},
        ))
    if predicts or (callable(value) and not isinstance(value, type)):
        attempts.append(("python function", "mlflow.pyfunc", {"python_model": _wrap}))
    return attempts


MODEL_LOGGING_MODULES = ("mlflow.models.signature", "mlflow.pyfunc", "mlflow.sklearn",
                         "sklearn.base", "skops.io")

# Libraries whose own types in a model this run built are trusted when skops loads it back.
SKOPS_TRUSTED_LIBRARIES = ("sklearn", "numpy", "scipy")


def _library_types(value: Any) -> list[str]:
    """The types skops would refuse to load from the model's file that come from the
    libraries themselves (a forest's `sklearn.tree._tree.Tree`).

    skops refuses them because a crafted file could crash the process; this file is the
    one this run writes from the model it built, so they are safe to trust, and MLflow
    records the list next to the model for whoever loads it. Types defined anywhere else
    (a notebook's own classes) stay untrusted: such a model falls back to cloudpickle.
    Without this a random forest failed skops and was logged twice, seconds apart.
    """
    try:
        import skops.io

        untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(value))
    except Exception:  # skops cannot hold it: the attempt fails and the next one runs
        return []
    return [name for name in untrusted if name.split(".", 1)[0] in SKOPS_TRUSTED_LIBRARIES]


def _wrap(value: Any) -> Any:
    """A PythonModel around any object with `predict`, or any callable.

    Defined in here so cloudpickle stores the class by value: loading the model later
    (a serving container, another machine) does not need liminal_jupyter installed.
    """
    import mlflow.pyfunc

    class NotebookModel(mlflow.pyfunc.PythonModel):
        def __init__(self, wrapped: Any) -> None:
            self.wrapped = wrapped

        def predict(self, context, model_input, params=None):
            predict = getattr(self.wrapped, "predict", None)
            if callable(predict):
                return predict(model_input)
            return self.wrapped(model_input)

    return NotebookModel(value)


def _input_example(training: Any) -> Any:
    return None if training is None else training[:INPUT_EXAMPLE_ROWS]


def _training_data(
    model: Any,
    inputs: Mapping[str, Mapping[str, Any]],
    outputs: Mapping[str, Mapping[str, Any]],
    exclude: str,
) -> Any:
    """The step's data that fits the model (its first rows become the input example, all of
    it the reference profile drift monitoring compares with), or None.

    Candidates are DataFrames and 2-D arrays among the step's data inputs, then its other
    outputs (a training step often makes X itself). Best is a DataFrame holding the model's
    `feature_names_in_` (cut to those columns, e.g. dropping the target); then one whose
    column count equals `n_features_in_` (a frame with other column names is skipped, since
    scikit-learn refuses it); a model that declares neither takes the first.
    """
    names = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else None
    n_features = getattr(model, "n_features_in_", None)
    best, best_rank = None, 3
    seen = set()
    for source in (inputs, outputs):
        for var, saved in source.items():
            if var == exclude or var in seen:
                continue
            seen.add(var)
            data = _tabular(saved)
            if data is None:
                continue
            columns = getattr(data, "columns", None)
            if names is not None and columns is not None:
                if all(n in columns for n in names):
                    return data[names]
                continue  # other column names: scikit-learn would refuse this frame
            if n_features is not None and data.shape[1] == n_features:
                rank = 1
            elif n_features is None and names is None:
                rank = 2
            else:
                continue
            if rank < best_rank:
                best, best_rank = data, rank
    return best


def _tabular(saved: Mapping[str, Any]) -> Any:
    """The saved value if it is a DataFrame or a 2-D array (and not huge), else None."""
    if saved.get("marshaller") == "json":
        return None
    try:
        if int(saved.get("size", 0)) > MAX_EXAMPLE_SOURCE_BYTES:
            return None
        from liminal_jupyter.step.marshal import load_value

        value = load_value(dict(saved))
    except Exception:
        return None
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        return value if len(value.columns) else None
    if module == "numpy" and type(value).__name__ == "ndarray" and value.ndim == 2:
        return value
    return None
