"""MLflow tracking against real stores: a local SQLite store and a real `mlflow server`.

No mocks: what the tracker wrote is read back with MLflow's own client, and logged models
are loaded and asked to predict, as the deploy side will.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from liminal_jupyter.pipeline import CellRef, Model, Pipeline, Step, StepInput
from liminal_jupyter.step.marshal import save_value
from liminal_jupyter.tracking.run import (
    NullTracker,
    RunTracker,
    TrackingWarning,
    create_tracker,
)
from liminal_jupyter.tracking.uri import default_tracking_uri

# -- helpers ------------------------------------------------------------------------------


def _pipeline(models: list[Model] | None = None, settings: dict | None = None) -> Pipeline:
    cell = CellRef(0, "c0", "pass")
    prepare = Step("prepare", [cell], phase="prepare", outputs=["df"])
    train = Step(
        "train",
        [cell],
        phase="train",
        inputs=[StepInput("df", "data", producer="prepare")],
        outputs=["clf"],
        models=models if models is not None else [Model("clf")],
    )
    return Pipeline("churn", "notebooks/churn.ipynb", [prepare, train], settings=settings or {})


def _frame():
    return pd.DataFrame({
        "a": [0.1, 0.9, 0.2, 0.8, 0.15, 0.95, 0.3, 0.7],
        "b": [1.0, 0.0, 0.9, 0.1, 1.0, 0.2, 0.8, 0.0],
        "target": [0, 1, 0, 1, 0, 1, 0, 1],
    })


def _fitted(frame):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(frame[["a", "b"]], frame["target"])


def _executed_notebook(directory: Path, step: str) -> str:
    path = directory / f"{step}.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}))
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_env_uri(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def global_uri():
    """Set MLflow's global URI for reading back (models:/ URIs resolve through it)."""
    import mlflow

    def use(uri: str) -> None:
        mlflow.set_tracking_uri(uri)

    yield use
    mlflow.set_tracking_uri(None)


def _run_pipeline(tracker, pipeline: Pipeline, tmp_path: Path) -> tuple[dict, dict, object]:
    """start, prepare (cached), train (with a model), finish: what the runner does."""
    frame = _frame()
    values = tmp_path / "values"
    df = save_value("df", frame, values / "prepare").to_dict()
    clf = save_value("clf", _fitted(frame), values / "train").to_dict()
    tracker.start(pipeline, "20260101-120000-abcd", {"n": 5, "alpha": 0.1, "cols": ["a", "b"]},
                  None, {"liminal.trigger": "test"})
    first = tracker.step_finished(
        pipeline.step("prepare"), "succeeded", 1.5, {"rows": 8}, {"df": df}, {},
        _executed_notebook(tmp_path, "prepare"), cached=True,
    )
    second = tracker.step_finished(
        pipeline.step("train"), "succeeded", 2.5, {"accuracy": 0.875}, {"clf": clf}, {"df": df},
        _executed_notebook(tmp_path, "train"), cached=False,
    )
    tracker.finish("succeeded")
    return first, second, frame


def _check_recorded(client, tracker, first: dict, second: dict) -> dict:
    parent = client.get_run(tracker.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "20260101-120000-abcd"
    assert parent.data.params == {"n": "5", "alpha": "0.1", "cols": '["a", "b"]'}
    assert parent.data.tags["mlflow.source.name"] == "notebooks/churn.ipynb"
    assert parent.data.tags["liminal.run_id"] == "20260101-120000-abcd"
    assert parent.data.tags["liminal.trigger"] == "test"
    assert parent.data.metrics["accuracy"] == 0.875  # plain names on the parent
    assert parent.data.metrics["rows"] == 8
    assert client.get_experiment(parent.info.experiment_id).name == "churn"

    nested = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{tracker.parent_run_id}'",
    )
    runs = {r.info.run_name: r for r in nested}
    assert set(runs) == {"prepare", "train"}
    assert runs["prepare"].info.run_id == first["run_id"]
    assert runs["train"].info.run_id == second["run_id"]
    assert runs["prepare"].data.tags["liminal.cached"] == "true"
    assert runs["train"].data.tags["liminal.cached"] == "false"
    assert runs["train"].data.tags["liminal.status"] == "succeeded"
    assert runs["train"].data.metrics == {"duration_s": 2.5, "accuracy": 0.875}
    assert runs["prepare"].data.metrics == {"duration_s": 1.5, "rows": 8}
    for name, run in runs.items():
        assert run.info.status == "FINISHED"
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "notebook")]
        assert artifacts == [f"notebook/{name}.ipynb"]
    assert first["models"] == {}
    assert set(second["models"]) == {"clf"}
    logged = client.search_logged_models(experiment_ids=[parent.info.experiment_id])
    assert [(m.name, m.source_run_id) for m in logged] == [("clf", second["run_id"])]
    return runs


def _check_model(uri: str, frame) -> None:
    import mlflow
    from mlflow.models import get_model_info

    model = mlflow.pyfunc.load_model(uri)
    features = frame[["a", "b"]]
    assert list(model.predict(features.head(4))) == list(_fitted(frame).predict(features.head(4)))
    info = get_model_info(uri)
    assert "sklearn" in info.flavors
    assert info.saved_input_example_info is not None
    example = mlflow.models.Model.load(uri).load_input_example(
        mlflow.artifacts.download_artifacts(uri)
    )
    assert list(example.columns) == ["a", "b"]  # the model's features, not the target
    assert len(example) == 5


# -- tests --------------------------------------------------------------------------------


def test_no_tracking_module_imports_mlflow_or_deploy():
    """Importing the tracking package costs nothing (`liminal-nb --help` stays fast), and
    the tracker only records: the promotion policy (deploy/) is not its to import."""
    code = ("import sys, liminal_jupyter.tracking.run, liminal_jupyter.tracking.uri; "
            "bad = [m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.') "
            "or m.startswith('liminal_jupyter.deploy')]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_tracking_is_a_null_tracker(tmp_path):
    assert isinstance(create_tracker(None, _pipeline(), tmp_path / ".liminal", enabled=False),
                      NullTracker)


def test_default_sqlite_store_records_runs_metrics_notebooks_and_model(
    tmp_path, no_env_uri, global_uri, capfd
):
    from mlflow import MlflowClient

    liminal = tmp_path / ".liminal"
    pipeline = _pipeline(models=[Model("clf", registered_name="churn-model")])
    tracker = create_tracker(None, pipeline, liminal)
    assert isinstance(tracker, RunTracker)
    capfd.readouterr()
    first, second, frame = _run_pipeline(tracker, pipeline, tmp_path)
    # A new store's tables are created quietly: nothing of MLflow's over the progress view
    assert "mlflow.store.db.utils" not in capfd.readouterr().err
    assert tracker.disabled_reason is None, tracker.messages
    # MLflow's process-global state is put back: steps started later inherit nothing of ours
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ

    uri = default_tracking_uri(liminal)
    client = MlflowClient(uri)
    _check_recorded(client, tracker, first, second)
    experiment = client.get_experiment(tracker.experiment_id)
    assert experiment.artifact_location == (liminal / "mlartifacts").resolve().as_uri()
    assert (liminal / "mlflow.db").is_file()
    assert not (tmp_path / "mlruns").exists() and not Path("mlruns").exists()
    global_uri(uri)
    _check_model(second["models"]["clf"], frame)
    assert second["registered"] == {"churn-model": "models:/churn-model/1"}
    _check_model("models:/churn-model/1", frame)


def test_real_mlflow_server_receives_the_run(tmp_path, no_env_uri, global_uri,
                                             mlflow_server):  # noqa: F811 (the fixture)
    from mlflow import MlflowClient

    url = mlflow_server.url
    pipeline = _pipeline()
    tracker = RunTracker(url)
    first, second, frame = _run_pipeline(tracker, pipeline, tmp_path)
    assert tracker.disabled_reason is None, tracker.messages
    assert tracker.run_url.startswith(f"{url}/#/experiments/")

    client = MlflowClient(url)  # the REST client
    _check_recorded(client, tracker, first, second)
    assert list(mlflow_server.artifacts.rglob("train.ipynb"))  # stored by the server
    global_uri(url)
    _check_model(second["models"]["clf"], frame)


def test_unreachable_server_disables_tracking_with_a_reason(tmp_path):
    port = _free_port()  # bound and released: nothing listens there
    tracker = RunTracker(f"http://127.0.0.1:{port}")
    pipeline = _pipeline()
    with pytest.warns(TrackingWarning, match="not reachable"):
        tracker.start(pipeline, "r1", {"n": 1}, None, {})
    assert "not reachable" in tracker.disabled_reason
    assert str(port) in tracker.disabled_reason
    result = tracker.step_finished(pipeline.step("prepare"), "succeeded", 1.0, {"x": 1.0},
                                   {}, {}, None, False)
    assert result == {"run_id": None, "models": {}, "registered": {}}
    tracker.finish("failed")
    assert len(tracker.messages) == 1  # one warning, then silence


def test_models_that_are_not_estimators(tmp_path, no_env_uri, global_uri):
    """A plain dict cannot be served: a clear warning. A callable gets the pyfunc flavor.

    Bad metrics (not a number, a name MLflow refuses) are warnings too; the rest is kept.
    """
    import mlflow
    import numpy as np

    liminal = tmp_path / ".liminal"
    pipeline = _pipeline(models=[Model("lookup"), Model("poly")])
    tracker = create_tracker(None, pipeline, liminal)
    tracker.start(pipeline, "r2", {}, "odd-models", {})
    values = tmp_path / "values"
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    outputs = {
        "lookup": save_value("lookup", {"a": 1}, values).to_dict(),
        "poly": save_value("poly", np.poly1d([2.0, 1.0]), values).to_dict(),
    }
    inputs = {"df": save_value("df", frame, values).to_dict()}
    with pytest.warns(TrackingWarning, match=r"model 'lookup' of step 'train' was not logged"):
        metrics = {"good": 2.0, "note": "n/a", "bad!name": 1.0}
        result = tracker.step_finished(pipeline.step("train"), "succeeded", 0.5, metrics,
                                       outputs, inputs, None, False)
    tracker.finish("FINISHED")
    assert tracker.disabled_reason is None
    assert any("no predict method and is not callable" in m for m in tracker.messages)
    assert set(result["models"]) == {"poly"}
    global_uri(default_tracking_uri(liminal))
    model = mlflow.pyfunc.load_model(result["models"]["poly"])
    assert "python_function" in model.metadata.flavors
    predicted = np.asarray(model.predict(frame.head(2))).ravel()
    assert list(predicted) == [3.0, 5.0]
    run = mlflow.MlflowClient(default_tracking_uri(liminal)).get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"duration_s": 0.5, "good": 2.0}
    assert any("'note' of step 'train' is 'n/a', not a number" in m for m in tracker.messages)
    assert any("metric 'bad!name' of step 'train' was not recorded" in m
               for m in tracker.messages)


def test_steps_finishing_on_several_threads(tmp_path, no_env_uri):
    """The runner reports steps from its worker threads, in any order."""
    import threading

    from mlflow import MlflowClient

    liminal = tmp_path / ".liminal"
    steps = [Step(f"s{i}", [CellRef(0, "c0", "pass")]) for i in range(6)]
    pipeline = Pipeline("threads", "t.ipynb", steps)
    tracker = create_tracker(None, pipeline, liminal)
    tracker.start(pipeline, "r3", {"k": "v"}, None, {})
    results: dict[str, dict] = {}

    def report(i: int) -> None:
        results[f"s{i}"] = tracker.step_finished(steps[i], "failed" if i == 3 else "succeeded",
                                                 float(i), {f"m{i}": i / 10}, {}, {}, None, False)

    threads = [threading.Thread(target=report, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tracker.finish("failed")
    client = MlflowClient(default_tracking_uri(liminal))
    for i in range(6):
        run = client.get_run(results[f"s{i}"]["run_id"])
        assert run.data.tags["mlflow.parentRunId"] == tracker.parent_run_id
        assert run.data.metrics == {"duration_s": float(i), f"m{i}": i / 10}
        assert run.info.status == ("FAILED" if i == 3 else "FINISHED")
    parent = client.get_run(tracker.parent_run_id)
    assert parent.info.status == "FAILED"
    assert {f"m{i}" for i in range(6)} <= set(parent.data.metrics)


def test_a_forest_is_logged_once_with_skops_and_registered_without_printing(
    tmp_path, no_env_uri, global_uri, capfd
):
    """skops refuses `sklearn.tree._tree.Tree` unless trusted: a forest used to fail the
    skops attempt and be logged a second time with cloudpickle. The library's own types
    are trusted (recorded next to the model, so loading it elsewhere works); registering
    prints nothing over the progress view."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.ensemble import RandomForestClassifier

    frame = _frame()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(
        frame[["a", "b"]], frame["target"])
    liminal = tmp_path / ".liminal"
    pipeline = _pipeline(models=[Model("clf", registered_name="forest")])
    tracker = create_tracker(None, pipeline, liminal)
    tracker.start(pipeline, "r-forest", {}, None, {})
    values = tmp_path / "values"
    outputs = {"clf": save_value("clf", forest, values / "train").to_dict()}
    inputs = {"df": save_value("df", frame, values / "prepare").to_dict()}
    capfd.readouterr()
    result = tracker.step_finished(pipeline.step("train"), "succeeded", 1.0, {}, outputs,
                                   inputs, None, False)
    tracker.finish("succeeded")
    printed = capfd.readouterr()
    assert "Registered model" not in printed.err + printed.out
    assert "Created version" not in printed.err + printed.out
    assert tracker.disabled_reason is None and tracker.messages == []

    assert result["registered"] == {"forest": "models:/forest/1"}
    client = MlflowClient(default_tracking_uri(liminal))
    logged = client.search_logged_models(experiment_ids=[tracker.experiment_id])
    assert len(logged) == 1  # one attempt, not a failed one and a fallback
    global_uri(default_tracking_uri(liminal))
    sklearn_flavor = mlflow.models.get_model_info("models:/forest/1").flavors["sklearn"]
    assert sklearn_flavor["serialization_format"] == "skops"
    assert sklearn_flavor["skops_trusted_types"] == ["sklearn.tree._tree.Tree"]
    loaded = mlflow.pyfunc.load_model("models:/forest/1")
    features = frame[["a", "b"]]
    assert list(loaded.predict(features)) == list(forest.predict(features))
    _assert_pinned_not_inferred("models:/forest/1", "skops")


def _assert_pinned_not_inferred(uri: str, serializer: str) -> None:
    """A scikit-learn model's requirements are the versions it was built with, given to
    MLflow rather than inferred (inference re-loads the model in a new process, seconds
    of every tracked run, and pins whatever that process imported, pytest included)."""
    from importlib.metadata import version

    import mlflow

    folder = mlflow.artifacts.download_artifacts(uri)
    pins = (Path(folder) / "requirements.txt").read_text().split()
    expected = {f"{name}=={version(name)}"
                for name in ("scikit-learn", "numpy", "scipy", "pandas", serializer)}
    assert expected <= set(pins), pins
    assert not any(pin.startswith(("pytest", "rich", "psutil")) for pin in pins), pins
    assert any(pin.startswith("mlflow") for pin in pins), pins  # MLflow adds itself


def test_promote_records_the_gates_decision_and_sets_only_what_it_allows(
    tmp_path, no_env_uri
):
    """The tracker does not decide: given an allowing decision it sets the alias, given a
    blocking one it only tags the version with why."""
    from mlflow import MlflowClient

    from liminal_jupyter.deploy.gate import Decision

    frame = _frame()
    liminal = tmp_path / ".liminal"
    pipeline = _pipeline(models=[Model("clf", registered_name="churn-model")])
    values = tmp_path / "values"
    outputs = {"clf": save_value("clf", _fitted(frame), values / "train").to_dict()}
    inputs = {"df": save_value("df", frame, values / "prepare").to_dict()}
    verdicts = [Decision(True, "champion", ["thresholds met (accuracy = 0.9)"]),
                Decision(False, "champion", ["accuracy = 0.5 is below its minimum 0.8"])]
    told: list[str] = []
    for number, decision in enumerate(verdicts, start=1):
        tracker = create_tracker(None, pipeline, liminal)
        tracker.start(pipeline, f"r-promote-{number}", {}, None, {})
        tracker.step_finished(pipeline.step("train"), "succeeded", 1.0, {}, outputs, inputs,
                              None, False)
        assert tracker.promote(decision, told.append) is decision
        tracker.finish("succeeded")
        assert tracker.messages == []
    client = MlflowClient(default_tracking_uri(liminal))
    assert str(client.get_model_version_by_alias("churn-model", "champion").version) == "1"
    first, second = (client.get_model_version("churn-model", v) for v in ("1", "2"))
    assert first.tags["liminal.validation"] == "passed"
    assert second.tags["liminal.validation"] == (
        "blocked: accuracy = 0.5 is below its minimum 0.8")
    assert told == ["model churn-model version 1 registered; alias 'champion' set: "
                    "thresholds met (accuracy = 0.9)",
                    "model churn-model version 2 registered; alias 'champion' not set: "
                    "accuracy = 0.5 is below its minimum 0.8"]


def test_warnings_go_to_the_callback_when_one_is_given(tmp_path):
    """The runner hands its reporter's `warning`: nothing is left to Python's warnings."""
    import warnings

    said: list[str] = []
    tracker = RunTracker(f"http://127.0.0.1:{_free_port()}", on_warning=said.append)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Python warning would fail the test
        tracker.start(_pipeline(), "r-cb", {}, None, {})
    assert len(said) == 1 and "not reachable" in said[0] and said == tracker.messages


def test_a_model_logged_with_a_lesser_flavor_says_why(tmp_path, no_env_uri, global_uri):
    """skops cannot hold a notebook's own function: the model falls back to cloudpickle,
    which works, and the warning says why the safer format was not used."""
    import mlflow
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from liminal_jupyter.step.marshal import save_value as save

    frame = _frame()
    features = frame[["a", "b"]]
    model = make_pipeline(FunctionTransformer(lambda x: x * 2.0), LogisticRegression())
    liminal = tmp_path / ".liminal"
    pipeline = _pipeline(models=[Model("clf")])
    said: list[str] = []
    tracker = create_tracker(None, pipeline, liminal, on_warning=said.append)
    tracker.start(pipeline, "r-fallback", {}, None, {})
    outputs = {"clf": save("clf", model.fit(features, frame["target"]),
                           tmp_path / "values").to_dict()}
    result = tracker.step_finished(pipeline.step("train"), "succeeded", 1.0, {}, outputs,
                                   {}, None, False)
    tracker.finish("succeeded")
    assert len(said) == 1, said
    assert said[0].startswith("model 'clf' of step 'train' was logged as scikit-learn "
                              "(cloudpickle); first tried as scikit-learn: ")
    global_uri(default_tracking_uri(liminal))
    loaded = mlflow.pyfunc.load_model(result["models"]["clf"])
    assert list(loaded.predict(features)) == list(model.predict(features))
    # The notebook's own code inside may call any library: only inference can tell.
    pins = (Path(mlflow.artifacts.download_artifacts(result["models"]["clf"]))
            / "requirements.txt").read_text().split()
    assert any(pin.startswith("cloudpickle==") for pin in pins), pins
