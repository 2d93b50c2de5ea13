"""`run_kfp_local`: a notebook's pipeline compiled to KFP YAML and run by kfp.local in a
child process, recorded in the run store with backend 'kfp-local'."""

from __future__ import annotations

import json
import shutil

import joblib
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from liminal_jupyter.cli import main
from liminal_jupyter.engines.kfp.local_backend import KfpLocalError, run_kfp_local
from liminal_jupyter.runs.progress import Reporter
from liminal_jupyter.runs.store import RunStore
from tests.conftest import EXAMPLES, code

IRIS = EXAMPLES / "iris_classification.ipynb"


class Events(Reporter):
    def __init__(self):
        self.events = []

    def run_started(self, run_id, pipeline, steps):
        self.events.append(("started", run_id, tuple(steps)))

    def step_state(self, step, state, duration=None, detail=None):
        self.events.append(("step", step, state))

    def run_finished(self, status, summary):
        self.events.append(("finished", status))


def test_iris_under_kfp_local_matches_the_local_runner(tmp_path, capsys):
    """The iris example compiled and run by kfp.local (each step a KFP task with its
    executed notebook as an HTML artifact), recorded in the ledger, then run locally with
    the same parameter: the metrics agree. (One test for both: each run of iris costs
    tens of seconds.)"""
    notebook = tmp_path / "iris_classification.ipynb"
    shutil.copy(IRIS, notebook)
    events = Events()
    run_id, status, metrics = run_kfp_local(notebook, {"n_estimators": 20}, events)
    assert status == "succeeded"
    assert set(metrics) == {"accuracy", "f1"}

    # Each step's executed notebook is an HTML artifact holding what the step printed.
    store = RunStore(tmp_path / ".liminal")
    root = store.run_dir(run_id) / "pipeline-root"
    pages = {p.parent.name: p.read_text() for p in root.rglob("executed_html")}
    assert set(pages) == {f"step-{s}" for s in ("fetch", "prepare", "train", "evaluate",
                                                "validate")}
    assert "(150, 5)" in pages["step-fetch"]
    assert "train: 112 rows, test: 38 rows" in pages["step-prepare"]
    assert "accuracy=" in pages["step-evaluate"]
    # The train step's model is a KFP Model artifact that loads and predicts, and carries
    # what the registry needs in its metadata.
    (model_file,) = [p for p in root.rglob("model_clf") if p.parent.name == "step-train"]
    clf = joblib.load(model_file)
    assert isinstance(clf, BaseEstimator)
    rows = pd.DataFrame([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
                        columns=list(clf.feature_names_in_))
    assert len(clf.predict(rows)) == 2
    (written,) = [p for p in root.rglob("executor_output.json")
                  if p.parent.name == "step-train"]
    [artifact] = json.loads(written.read_text())["artifacts"]["model_clf"]["artifacts"]
    meta = artifact["metadata"]
    assert meta["marshaller"] == "joblib" and meta["variable"] == "clf"
    assert meta["framework"] == "sklearn"
    assert "registered_name" in meta

    run = store.get_run(run_id)
    assert (run.backend, run.status, run.parameters) == ("kfp-local", "succeeded",
                                                         {"n_estimators": 20})
    assert run_id in [r.run_id for r in store.list_runs()]
    steps = {s.step: s for s in store.steps(run_id)}
    assert {s.status for s in steps.values()} == {"succeeded"}
    assert steps["evaluate"].metrics == metrics
    assert (store.run_dir(run_id) / "pipeline.yaml").is_file()
    assert ("step", "train", "succeeded") in events.events
    assert events.events[-1] == ("finished", "succeeded")

    capsys.readouterr()
    assert main(["run", "--no-tracking", "--json", "-p", "n_estimators=20",
                 str(notebook)]) == 0
    local_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    assert main(["show", local_id, "--dir", str(tmp_path), "--json"]) == 0
    local = {k: v for step in json.loads(capsys.readouterr().out)["steps"]
             for k, v in (step.get("metrics") or {}).items()}
    for name in ("accuracy", "f1"):
        assert metrics[name] == pytest.approx(local[name], abs=1e-9)
    assert {r.backend for r in store.list_runs()} == {"kfp-local", "local"}


def test_a_failing_step_fails_the_run_with_its_error(write_nb):
    nb = write_nb([
        code("x = 1", "step:ok"),
        code("y = x / 0", "step:boom", "after:ok"),
        code("z = 2", "step:later", "after:boom"),
    ])
    run_id, status, metrics = run_kfp_local(nb, {}, None)
    assert status == "failed" and metrics == {}
    store = RunStore(nb.parent / ".liminal")
    run = store.get_run(run_id)
    assert run.status == "failed"
    assert "step 'boom' failed in notebook cell 2" in run.message
    assert "ZeroDivisionError" in run.message
    steps = {s.step: s.status for s in store.steps(run_id)}
    assert steps == {"ok": "succeeded", "boom": "failed", "later": "skipped"}
    assert "ZeroDivisionError" in store.get_step(run_id, "boom").error["message"]
    # Each step's executed notebook and page are kept where a local run keeps them.
    boom = store.get_step(run_id, "boom").executed_notebook
    assert boom == str(store.step_dir(run_id, "boom") / "executed.ipynb")
    page = (store.step_dir(run_id, "boom") / "executed.html").read_text()
    assert "ZeroDivisionError" in page and "<script" not in page
    assert store.get_step(run_id, "later").executed_notebook is None
    # So the run's report shows the kfp-local step's notebook, open at its error.
    from liminal_jupyter.runs.report import run_report

    report = run_report(store, run_id)
    section = report[report.index('<details id="step-1-boom" class="step" open>'):]
    section = section[:section.index("</details>")]
    assert '<div class="jp-Notebook notebook">' in section and "ZeroDivisionError" in section


def test_an_unknown_parameter_is_refused_before_anything_runs(write_nb):
    nb = write_nb([code("k = 1", "parameters"), code("a = k", "step:one")])
    with pytest.raises(KfpLocalError, match="unknown parameter.*nope"):
        run_kfp_local(nb, {"nope": 1})
    assert RunStore(nb.parent / ".liminal").list_runs() == []


def test_the_kale_style_notebook_runs_under_kfp_local_like_locally(tmp_path, capsys):
    """Kale's tags (block:, prev:, pipeline-parameters, limit:, cache:disabled) through KFP."""
    from tests.conftest import TEST_NOTEBOOKS

    notebook = tmp_path / "kale.ipynb"
    shutil.copy(TEST_NOTEBOOKS / "kale_titanic_style.ipynb", notebook)
    run_id, status, metrics = run_kfp_local(notebook, {"C": 0.5}, Events())
    assert status == "succeeded"
    assert set(metrics) == {"lr_acc", "tree_acc"}

    assert main(["run", "--no-tracking", "--json", "-p", "C=0.5", str(notebook)]) == 0
    store = RunStore(tmp_path / ".liminal")
    local_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    local = {k: v for s in store.steps(local_id) for k, v in (s.metrics or {}).items()}
    assert metrics == pytest.approx(local, abs=1e-9)
