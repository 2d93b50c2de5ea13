"""The fan-out example (example_notebooks/wine_depths_foreach.ipynb: one tree per max_depth,
then the best) gives the same outputs on local, kfp-local (dsl.ParallelFor over an elements
task, dsl.Collected for the reader) and airflow-local (dynamic task mapping), and every
engine records each element as STEP.I. Each engine run costs tens of seconds, so one test
runs all three, as test_workspace_engines.py does."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from liminal_jupyter.cli import main
from liminal_jupyter.engines.airflow.local_backend import airflow_installed, run_airflow
from liminal_jupyter.engines.kfp.local_backend import run_kfp_local
from liminal_jupyter.runs.store import RunStore

EXAMPLE = Path(__file__).resolve().parents[2] / "example_notebooks" / "wine_depths_foreach.ipynb"


def test_the_fan_out_example_gives_the_same_outputs_on_every_engine(tmp_path, monkeypatch,
                                                                     capsys):
    if not airflow_installed():
        pytest.fail("Apache Airflow is not installed; `make install` installs it")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    notebook = tmp_path / "nb" / EXAMPLE.name
    notebook.parent.mkdir()
    shutil.copyfile(EXAMPLE, notebook)
    store = RunStore(notebook.parent / ".liminal")

    capsys.readouterr()
    assert main(["run", "--no-tracking", "--json", "--jobs", "2", str(notebook)]) == 0
    local_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    runs = {"local": local_id}
    for backend, run in (("kfp-local", run_kfp_local), ("airflow", run_airflow)):
        run_id, status, _ = run(notebook, {})
        assert status == "succeeded", store.get_run(run_id).message
        runs[backend] = run_id

    seen = {}
    for backend, run_id in runs.items():
        steps = {s.step: s for s in store.steps(run_id)}
        assert {n: s.status for n, s in steps.items() if s.status != "cached"} == {
            n: "succeeded" for n in ("load", "train", "pick", "train.0", "train.1",
                                     "train.2", "train.3")}, backend
        seen[backend] = steps["pick"].metrics
    assert seen["local"] == pytest.approx({"best_accuracy": seen["local"]["best_accuracy"],
                                           "best_depth": 3.0})
    assert seen["kfp-local"] == pytest.approx(seen["local"])
    assert seen["airflow"] == pytest.approx(seen["local"])
