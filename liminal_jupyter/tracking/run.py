"""MLflow tracking of a local run: the run is an MLflow run, each step a nested run.

The local runner calls a tracker from its own process only (never from a step's kernel):
`start` when the run begins, `step_finished` as each step's outcome arrives, `promote` with
the promotion gate's decision, `finish` at the end. What gets recorded, and why:

- the run's parameter values on the parent run, so runs can be compared in the MLflow UI;
- per step, a nested run (tag `mlflow.parentRunId`) with the step's duration (`duration_s`),
  its `metrics` cell values, its status and whether it came from the cache, and the executed
  step notebook as an artifact, so a number can always be traced to the code that made it;
- the metrics also on the parent run under their plain names (they are unique per pipeline),
  so the experiment's run table shows them without opening the steps;
- each `model:VAR` as an MLflow model (models.py), its training data's profile
  (profile.py) and a registered version (registry.py).

Tracking must never cost the user their run, and must never fail in silence. A tracking
server that is down is found by a 2-second `/health` probe before anything else, and makes
the tracker say so once (kept in `disabled_reason`) and turn every later call into a no-op.
Any other MLflow failure while logging a step is said too; the run goes on. What the tracker
says goes to `on_warning` (the runner's reporter: a `warning` event), else it is a Python
warning (`TrackingWarning`); every text is also kept in `messages`.

Importing this module imports no MLflow (a test checks it): `liminal-nb --help` stays fast.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.tracking.models import (
    ModelNotLogged,
    log_model,
    warm_up_imports,
)
from liminal_jupyter.tracking.profile import log_reference_profile
from liminal_jupyter.tracking.registry import Promotion, apply_promotion, register_version
from liminal_jupyter.tracking.session import (
    MLFLOW_LOCK,
    describe,
    http_env_defaults,
    prepare_local_store,
    quiet_store_setup,
)
from liminal_jupyter.tracking.uri import (
    default_artifact_location,
    default_tracking_uri,
    probe_tracking_server,
    resolve_tracking_uri,
)

if TYPE_CHECKING:
    from liminal_jupyter.pipeline import Model, Pipeline, Step

MAX_PARAM_CHARS = 6000
"""MLflow's limit on a parameter value; longer values are cut, with a visible ellipsis."""

_FINISHED_STATUSES = {"finished", "succeeded", "success", "ok", "done", "completed", "cached"}
_KILLED_STATUSES = {"killed", "cancelled", "canceled", "interrupted", "skipped", "stopped"}

Warn = Callable[[str], None]


class TrackingWarning(UserWarning):
    """Something could not be recorded in MLflow; the run itself is not affected."""


def create_tracker(
    cli_uri: str | None,
    pipeline: Pipeline,
    liminal_dir: Path,
    *,
    enabled: bool = True,
    on_warning: Warn | None = None,
) -> RunTracker | NullTracker:
    """The tracker the runner uses: a NullTracker for `--no-tracking`, else a RunTracker on
    the resolved URI (with artifacts under `liminal_dir` when it is the default store)."""
    if not enabled:
        return NullTracker()
    uri = resolve_tracking_uri(cli_uri, pipeline.settings, liminal_dir)
    location = (
        default_artifact_location(liminal_dir) if uri == default_tracking_uri(liminal_dir) else None
    )
    return RunTracker(uri, artifact_location=location, on_warning=on_warning)


def mlflow_status(status: str) -> str:
    """MLflow's terminal run status (FINISHED, FAILED or KILLED) for a runner status."""
    word = str(status).strip().lower()
    if word in _FINISHED_STATUSES:
        return "FINISHED"
    if word in _KILLED_STATUSES:
        return "KILLED"
    return "FAILED"


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

    def start(self, pipeline: Pipeline, run_id: str, parameters: Mapping[str, Any] | None = None,
              experiment: str | None = None, tags: Mapping[str, Any] | None = None) -> None:
        return None

    def step_finished(self, step: Step, status: str, duration_s: float,
                      metrics: Mapping[str, Any] | None = None,
                      outputs: Mapping[str, Mapping[str, Any]] | None = None,
                      inputs: Mapping[str, Mapping[str, Any]] | None = None,
                      executed_notebook: str | None = None,
                      cached: bool = False) -> dict[str, Any]:
        return {"run_id": None, "models": {}, "registered": {}}

    def promote(self, decision: Promotion, notify: Warn | None = None) -> None:
        return None

    def warm_up(self) -> None:
        return None

    def finish(self, status: str) -> None:
        return None


class RunTracker:
    """Records one pipeline run in MLflow. Thread-safe; never raises into the runner.

    Construction does no I/O and imports nothing heavy. `start` probes the server, creates
    (or reuses) the experiment and the parent run. When tracking is impossible,
    `disabled_reason` says why (also said once as a warning) and every later call does
    nothing. `messages` keeps every warning text.
    """

    def __init__(self, tracking_uri: str, *, artifact_location: str | None = None,
                 on_warning: Warn | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.on_warning = on_warning
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
        self.decision: Promotion | None = None
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
        if self.on_warning is not None:
            self.on_warning(message)
        else:
            warnings.warn(message, TrackingWarning, stacklevel=3)

    def _disable(self, reason: str) -> None:
        if self.disabled_reason is None:
            self.disabled_reason = reason
            self._warn(f"MLflow tracking is off for this run: {reason}. The run goes on.")

    def _after_failure(self, what: str, exc: BaseException) -> None:
        """Warn about one failed log; turn tracking off if the server has gone away."""
        self._warn(f"{what} was not recorded in MLflow: {describe(exc)}")
        self._disable_if_down()

    def _disable_if_down(self) -> None:
        down = probe_tracking_server(self.tracking_uri)
        if down:
            self._disable(down)

    @contextlib.contextmanager
    def _mlflow(self) -> Iterator[Any]:
        """The MlflowClient, with the module lock held and bounded HTTP retries."""
        with MLFLOW_LOCK, http_env_defaults():
            if self._client is None:
                from mlflow import MlflowClient

                quiet_store_setup()
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
        with MLFLOW_LOCK:
            if self.disabled_reason is not None or self.parent_run_id is not None:
                return
            down = probe_tracking_server(self.tracking_uri)
            if down:
                self._disable(down)
                return
            prepare_local_store(self.tracking_uri)
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
                              f"{describe(exc)}")

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
        with MLFLOW_LOCK:
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
        each metric is tried alone so one bad name does not lose the others (and the one
        that fails is named in a warning).
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
            except Exception:  # each metric alone, below, says which one failed and why
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

    # -- models ---------------------------------------------------------------------------
    def _log_model(
        self,
        step: Step,
        model: Model,
        nested: str,
        outputs: Mapping[str, Mapping[str, Any]],
        inputs: Mapping[str, Mapping[str, Any]],
        registered: dict[str, str],
    ) -> str | None:
        """Log `model:VAR` (models.py), its training data's profile and a registered version
        (into `registered`). A failure of any part is a warning; what worked is kept."""
        var = model.variable
        what = f"model {var!r} of step {step.name!r}"
        try:
            logged = log_model(self._mlflow, self.tracking_uri, str(self.experiment_id), step,
                               model, nested, outputs, inputs)
        except ModelNotLogged as exc:
            self._warn(f"{what} was not logged to MLflow ({exc})" if exc.attempted
                       else f"{what} was not logged to MLflow: {exc}")
            if exc.attempted and self.disabled_reason is None:
                self._disable_if_down()
            return None
        if logged.failed_first:  # logged, but not as well as it could be: say why
            self._warn(f"{what} was logged as {logged.flavor}; first tried "
                       f"{'; '.join(logged.failed_first)}")
        self._log_reference_profile(what, nested, logged.training)
        self._register(what, logged.uri, model.registered_name or self.pipeline_name or var,
                       registered, nested, step=step.name, variable=var)
        return logged.uri

    def warm_up(self) -> None:
        """Import what logging a model takes, while the steps that build it still run."""
        if self.disabled_reason is not None:
            return
        for name, exc in warm_up_imports():
            self._warn(f"{name} cannot be imported, so models may not be logged to MLflow: "
                       f"{describe(exc)}")

    def _log_reference_profile(self, what: str, nested: str, training: Any) -> None:
        """What `liminal-nb monitor` compares new data with (deploy/drift.py)."""
        if training is None:
            return
        try:
            with self._mlflow() as client:
                log_reference_profile(client, nested, training)
        except Exception as exc:
            self._warn(f"the training data profile of {what} was not logged (drift "
                       f"monitoring will need --reference): {describe(exc)}")

    def _register(self, what: str, uri: str, name: str, registered: dict[str, str],
                  run_id: str, step: str = "", variable: str = "") -> None:
        """A new version of registered model `name` from the logged model at `uri`."""
        try:
            with self._mlflow() as client:
                version = register_version(client, self.tracking_uri, name, uri, run_id)
        except Exception as exc:
            self._warn(f"{what} was logged ({uri}) but not registered as {name!r}: "
                       f"{describe(exc)}")
            return
        registered[name] = f"models:/{name}/{version}"
        self.registered_versions[name] = version
        self.registered_models.append({
            "name": name, "version": version, "uri": registered[name],
            "step": step, "variable": variable})

    def promote(self, decision: Promotion, notify: Warn | None = None) -> Promotion | None:
        """Record the promotion gate's `decision` (deploy/gate.py, asked by the runner) on
        this run's registered versions: the verdict as tag `liminal.validation`, the alias
        if it allows it, a summary on the parent run. Returns the decision, or None when
        this run registered nothing. `notify(text)` is told the outcome. Never raises.
        """
        with MLFLOW_LOCK:
            if self.disabled_reason is not None or not self.registered_versions:
                return None
            self.decision = decision
            try:
                with self._mlflow() as client:
                    lines = apply_promotion(client, self.registered_versions, decision,
                                            str(self.parent_run_id))
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
        with MLFLOW_LOCK:
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


def _parent_tags(pipeline: Pipeline, run_id: str, extra: Mapping[str, Any] | None) -> dict:
    tags = {
        "mlflow.source.name": pipeline.notebook,
        "mlflow.source.type": "NOTEBOOK",
        "liminal.notebook": pipeline.notebook,
        "liminal.pipeline": pipeline.name,
        "liminal.run_id": run_id,
    }
    with contextlib.suppress(Exception):  # no user name to be had: the tag is optional
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
