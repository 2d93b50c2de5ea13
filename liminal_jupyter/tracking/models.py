"""A `model:VAR` as an MLflow model: which flavor, what input example, one `Model.log` call.

Each model is logged with the best flavor that works (scikit-learn when it is an estimator,
else a python-function wrapper around the object's `predict` or call) and an input example
taken from the step's data, so it can be registered and served as is. The same data, whole,
is what the drift profile (profile.py) summarises.

`Model.log` has no client form in MLflow 3 (it reads the process-global tracking URI), so it
runs with that URI set for the call (session.py) and is handed a LoggedModel created here in
the run's experiment (left to itself, it would file the model under the default experiment).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from liminal_jupyter.tracking.session import describe, global_tracking_uri

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from liminal_jupyter.pipeline import Model, Step

INPUT_EXAMPLE_ROWS = 5
"""Rows of step data kept as a model's input example: enough to show the shape, no more."""

MAX_EXAMPLE_SOURCE_BYTES = 256 * 1024 * 1024
"""Saved values larger than this are not loaded just to cut an input example from them."""

MODEL_LOGGING_MODULES = ("mlflow.models.signature", "mlflow.pyfunc", "mlflow.sklearn",
                         "sklearn.base", "skops.io")
"""What logging a model imports: `warm_up_imports` loads them while steps still run."""

SKOPS_TRUSTED_LIBRARIES = ("sklearn", "numpy", "scipy")
"""Libraries whose own types in a model this run built are trusted when skops loads it."""


class ModelNotLogged(Exception):
    """No flavor could log the model; the message says why (each attempt's failure)."""

    def __init__(self, message: str, *, attempted: bool = False) -> None:
        super().__init__(message)
        self.attempted = attempted  # True when MLflow was called (the server may be gone)


@dataclass
class LoggedModel:
    uri: str  # models:/m-... of the logged model
    training: Any  # the step data that fits it (a DataFrame or 2-D array), or None
    flavor: str = ""  # the attempt that worked, e.g. "scikit-learn (cloudpickle)"
    failed_first: list[str] = field(default_factory=list)  # better flavors that failed, why


def log_model(
    mlflow: Callable[[], AbstractContextManager[Any]],
    tracking_uri: str,
    experiment_id: str,
    step: Step,
    model: Model,
    nested: str,
    outputs: Mapping[str, Mapping[str, Any]],
    inputs: Mapping[str, Mapping[str, Any]],
) -> LoggedModel:
    """Log `model:VAR` of `step` into run `nested` with the first flavor that works.

    `mlflow()` gives the MlflowClient (with the tracker's lock held). Raises ModelNotLogged.
    """
    var = model.variable
    saved = outputs.get(var)
    if saved is None:
        raise ModelNotLogged(f"the step saved no variable {var!r} (is it assigned in that "
                             "step?)")
    try:
        from liminal_jupyter.step.marshal import load_value

        value = load_value(dict(saved))
    except Exception as exc:  # unpickling raises anything; the message says what
        raise ModelNotLogged(describe(exc)) from exc
    attempts = flavor_attempts(value)
    if not attempts:
        raise ModelNotLogged(f"a {type_name(value)} has no predict method and is not "
                             "callable, so MLflow could not serve it")
    training = training_data(value, inputs, outputs, exclude=var)
    example = input_example(training)
    failures = []
    for label, flavor, kwargs in attempts:
        try:
            if kwargs.get("python_model") is wrap:
                kwargs = {**kwargs, "python_model": wrap(value)}
            if kwargs.get("skops_trusted_types") is library_types:
                kwargs = {**kwargs, "skops_trusted_types": library_types(value)}
            with mlflow() as client:
                uri = _log_flavor(client, tracking_uri, experiment_id, step, model, nested,
                                  flavor, kwargs, example)
        except Exception as exc:  # a flavor that cannot hold it: the next one is tried
            failures.append(f"as {label}: {describe(exc)}")
            continue
        return LoggedModel(uri, training, label, failures)
    raise ModelNotLogged("; ".join(failures), attempted=True)


def _log_flavor(client: Any, tracking_uri: str, experiment_id: str, step: Step, model: Model,
                nested: str, flavor_name: str, kwargs: dict[str, Any], example: Any) -> str:
    """One `Model.log` call, into a LoggedModel created here in our experiment."""
    from mlflow.models import Model as MlflowModel

    flavor = importlib.import_module(flavor_name)
    logged = client.create_logged_model(
        experiment_id,
        name=model.variable,
        source_run_id=nested,
        tags={"liminal.step": step.name, "liminal.variable": model.variable},
    )
    try:
        with global_tracking_uri(tracking_uri):
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
        # The failure itself is what the caller reports; an empty LoggedModel left
        # behind would only clutter the experiment, so removing it is best effort.
        with contextlib.suppress(Exception):
            client.delete_logged_model(logged.model_id)
        raise
    return info.model_uri


def warm_up_imports() -> Iterator[tuple[str, BaseException]]:
    """Import what logging a model takes, while the steps that build it still run.

    Logging a scikit-learn model imports scikit-learn, skops and MLflow's flavor and
    signature code: seconds that otherwise come after the last step, with the user
    waiting. Imports only: a package that is missing is skipped; one that fails to import
    is yielded (name, error), since logging the model will then fail the same way.
    """
    import importlib.util

    for name in MODEL_LOGGING_MODULES:
        if importlib.util.find_spec(name.split(".", 1)[0]) is None:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken install: said once here, again when logging
            yield name, exc
    _warm_requirement_checks()


def _warm_requirement_checks() -> None:
    """MLflow checks a model's pip requirements against what is installed by mapping every
    installed distribution to its modules, once per process (about a second in a large
    environment). Built here, while steps run, it is not built after the last one. Best
    effort: a private helper of MLflow's, so a change there only loses the head start."""
    try:
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()
    except Exception:  # noqa: BLE001 - a warm-up only
        return


def flavor_attempts(value: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, flavor module, log kwargs) to try in order, best flavor first.

    A `python_model` given as `wrap` is wrapped only when that attempt is reached.

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
                         {"sk_model": value, "skops_trusted_types": library_types,
                          "pip_requirements": pinned_requirements(*SKLEARN_STACK, "skops")}))
    if fits and predicts:
        attempts.append((
            "scikit-learn (cloudpickle)",
            "mlflow.sklearn",
            {"sk_model": value, "serialization_format": "cloudpickle"},
        ))
    if predicts or (callable(value) and not isinstance(value, type)):
        attempts.append(("python function", "mlflow.pyfunc", {"python_model": wrap}))
    return attempts


SKLEARN_STACK = ("scikit-learn", "numpy", "scipy", "pandas")
"""What a scikit-learn model needs to load and serve (MLflow itself is added by MLflow)."""


def pinned_requirements(*distributions: str) -> list[str]:
    """`name==version` of each installed distribution: a scikit-learn model's requirements,
    known without asking MLflow to infer them.

    Inference loads the model again in a fresh Python process to see what it imports
    (seconds, most of logging a model; and it picks up whatever else that process imported,
    such as pytest or rich). For scikit-learn's own models the answer is known: the
    versions the model was built with, when skops could hold it (so it holds nothing but
    types of those libraries). A cloudpickled model may carry a notebook's own code that
    calls any library, and a wrapped callable anything: those are still inferred, since
    only loading them tells.
    """
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for name in distributions:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pins


def library_types(value: Any) -> list[str]:
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
    except Exception:  # skops cannot hold it: the skops attempt fails, says why, next one
        return []
    return [name for name in untrusted if name.split(".", 1)[0] in SKOPS_TRUSTED_LIBRARIES]


def wrap(value: Any) -> Any:
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


def input_example(training: Any) -> Any:
    return None if training is None else training[:INPUT_EXAMPLE_ROWS]


def training_data(
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
    except Exception:  # only a candidate for the example: one that will not load is none
        return None
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        return value if len(value.columns) else None
    if module == "numpy" and type(value).__name__ == "ndarray" and value.ndim == 2:
        return value
    return None


def type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _is_sklearn_module(value: Any) -> bool:
    return type(value).__module__.split(".", 1)[0] == "sklearn"
