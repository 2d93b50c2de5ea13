"""A pipeline file of three notebooks (example_notebooks/wine_pipeline) runs with the same
results on every engine: local, kfp-local and airflow-local. Each step runs its own
notebook's imports (features.ipynb imports numpy, train.ipynb scikit-learn's model: a step
given the wrong prelude fails with a NameError), values cross from one notebook's steps to
the next's, and the runs ledger records runs of the file. Each engine run costs tens of
seconds, so one test runs all three."""

from __future__ import annotations

import json
import shutil

import pytest

from liminal_jupyter.cli import main
from liminal_jupyter.engines.airflow.local_backend import airflow_installed, run_airflow
from liminal_jupyter.engines.kfp.local_backend import run_kfp_local
from liminal_jupyter.runs.store import RunStore
from tests.conftest import EXAMPLES, code, notebook_json

STEPS = ["load", "clean", "split", "train", "evaluate"]


def test_wine_pipeline_on_every_engine(tmp_path, capsys):
    if not airflow_installed():
        pytest.fail("Apache Airflow is not installed; `make install` installs it")
    folder = tmp_path / "wine"
    shutil.copytree(EXAMPLES / "wine_pipeline", folder,
                    ignore=shutil.ignore_patterns(".liminal", ".ipynb_checkpoints"))
    pipeline_file = folder / "liminal.yml"
    store = RunStore(folder / ".liminal")

    runs = {}
    for backend, run in (("kfp-local", run_kfp_local), ("airflow", run_airflow)):
        run_id, status, metrics = run(pipeline_file, {"C": 0.2})
        assert status == "succeeded", store.get_run(run_id).message
        runs[backend] = run_id
    capsys.readouterr()
    assert main(["run", "--no-tracking", "--json", "-p", "C=0.2", str(pipeline_file)]) == 0
    runs["local"] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]

    results = {}
    for backend, run_id in runs.items():
        record = store.get_run(run_id)
        assert record.notebook.endswith("liminal.yml"), backend
        assert record.pipeline_name == "wine-pipeline"
        steps = {s.step: s for s in store.steps(run_id)}
        assert {n: s.status for n, s in steps.items()} == dict.fromkeys(STEPS, "succeeded")
        metrics = {k: v for s in steps.values() for k, v in (s.metrics or {}).items()}
        # The values that crossed notebooks, by content. kfp.local keeps its artifacts in
        # its own pipeline root: the ledger records no output records for its steps.
        crossed = None if backend == "kfp-local" else {
            name: steps[step].outputs[name]["sha256"]
            for step, name in (("load", "wines"), ("split", "X_train"), ("split", "y_test"))}
        results[backend] = (metrics, crossed)
    local_metrics, local_crossed = results["local"]
    assert set(local_metrics) == {"accuracy"} and 0.8 < local_metrics["accuracy"] <= 1
    for backend, (metrics, _) in results.items():
        assert metrics == pytest.approx(local_metrics), backend
    assert results["airflow"][1] == local_crossed
    # The parameter reached train.ipynb's steps (its notebook default is C = 1.0).
    executed = store.get_step(runs["local"], "train").executed_notebook
    assert "C = 0.2" in open(executed, encoding="utf-8").read()
    assert main(["runs", str(pipeline_file)]) == 0
    listed = capsys.readouterr().out
    assert all(run_id in listed for run_id in runs.values())


def test_a_notebook_in_a_sub_folder_runs_there_on_kfp_local(tmp_path):
    """Its step's working directory is its own folder, where its files are: the workspace
    travels inside the compiled YAML with the sub-folder's path kept. The file it writes
    there reaches a later notebook of the top folder that reads it as sub/out.txt (a file
    edge across notebooks), though each KFP step runs in a working directory of its own."""
    folder = tmp_path / "project"
    (folder / "sub").mkdir(parents=True)
    (folder / "make.ipynb").write_text(json.dumps(notebook_json(
        [code("n = 3", "step:make")])))
    (folder / "sub" / "read.ipynb").write_text(json.dumps(notebook_json([
        code("import os", "imports"),
        code("text = open('note.txt').read().strip() * n\nhere = os.path.basename(os.getcwd())"
             "\nopen('out.txt', 'w').write(text.upper())", "step:read"),
        code("length = len(text)", "metrics")])))
    (folder / "final.ipynb").write_text(json.dumps(notebook_json([
        code("capitals = sum(c.isupper() for c in open('sub/out.txt').read())", "step:final"),
        code("capitals", "metrics")])))
    (folder / "sub" / "note.txt").write_text("ab\n")
    (folder / "liminal.yml").write_text(
        "notebooks: [make.ipynb, sub/read.ipynb, final.ipynb]\n")

    run_id, status, metrics = run_kfp_local(folder / "liminal.yml", {})
    store = RunStore(folder / ".liminal")
    assert status == "succeeded", store.get_run(run_id).message
    assert metrics == {"length": 6, "capitals": 6}
