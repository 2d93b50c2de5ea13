"""Compiled DAGs run for real with `airflow dags test` (SQLite, no scheduler, offline).

`liminal-nb run --backend airflow` compiles the notebook, runs the DAG in a throwaway
AIRFLOW_HOME and records the run; the bash-operator DAG runs through `dags test` directly.
Each run starts Airflow and one kernel per step, so these are the slow Airflow tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from liminal_jupyter.cli import main
from liminal_jupyter.engines.airflow.compile import DagOptions, write_dag
from liminal_jupyter.engines.airflow.local_backend import run_airflow
from liminal_jupyter.engines.airflow.runtime import MANIFEST, TASK_STATE
from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.runs.progress import Reporter
from liminal_jupyter.runs.store import RunStore
from liminal_jupyter.step.marshal import load_value
from tests.conftest import EXAMPLES, code
from tests.engines.airflow.airflow_helpers import (  # noqa: F401 - fixtures
    HOSTILE,
    dags_test,
    isolated_airflow,
)

IRIS = EXAMPLES / "iris_classification.ipynb"


class Events(Reporter):
    def __init__(self):
        self.events = []

    def run_started(self, run_id, pipeline, steps):
        self.events.append(("started", tuple(steps)))

    def step_state(self, step, state, duration=None, detail=None):
        self.events.append(("step", step, state))

    def run_finished(self, status, summary):
        self.events.append(("finished", status))


def _values(record) -> dict:
    return {name: load_value(saved) for name, saved in record.outputs.items()}


def _same(a, b) -> bool:
    """Equal saved values: frames and arrays by content, estimators by their parameters."""
    if hasattr(a, "equals"):
        return a.equals(b)
    if hasattr(a, "get_params"):
        return type(a) is type(b) and a.get_params() == b.get_params()
    return a == b


def test_iris_under_airflow_matches_the_local_runner(tmp_path, capsys):
    notebook = tmp_path / "iris_classification.ipynb"
    shutil.copy(IRIS, notebook)
    events = Events()
    run_id, status, metrics = run_airflow(notebook, {"n_estimators": 20}, events)
    assert status == "succeeded", RunStore(tmp_path / ".liminal").get_run(run_id).message

    store = RunStore(tmp_path / ".liminal")
    run = store.get_run(run_id)
    assert (run.backend, run.status, run.parameters) == ("airflow", "succeeded",
                                                         {"n_estimators": 20})
    assert run.remote_id.startswith("manual__")  # Airflow's own run id
    airflow_steps = {s.step: s for s in store.steps(run_id)}
    order = parse_notebook(notebook).order()
    assert events.events[0] == ("started", tuple(order))
    assert [e[1] for e in events.events if e[0] == "step" and e[2] == "succeeded"] == order
    assert events.events[-1] == ("finished", "succeeded")

    assert main(["run", "--no-tracking", "--json", "-p", "n_estimators=20",
                 str(notebook)]) == 0
    local_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    local_steps = {s.step: s for s in store.steps(local_id)}
    assert set(airflow_steps) == set(local_steps)
    for name, local in local_steps.items():
        ran = airflow_steps[name]
        assert ran.status == "succeeded"
        assert ran.metrics == pytest.approx(local.metrics, abs=1e-12)
        assert set(ran.outputs) == set(local.outputs)
        mine, theirs = _values(ran), _values(local)
        assert all(_same(mine[k], theirs[k]) for k in theirs), name
        assert ran.executed_notebook and ran.log_path
    assert set(metrics) == {"accuracy", "f1"}
    assert metrics == pytest.approx(local_steps["evaluate"].metrics, abs=1e-12)
    # The recorded run is listed with the local one and shows its steps' inputs.
    assert {r.backend for r in store.list_runs()} == {"airflow", "local"}
    assert main(["show", run_id, "--dir", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "inputs:  X_test, clf, y_test" in shown and "metrics: accuracy=" in shown


def _inert_notebook(write_nb, *failing):
    return write_nb([
        code("text = 'plain'", "parameters"),
        code("shown = text\nmarker = '{{ 7 * 7 }}'", "step:show"),
        code("length = len(shown)\nsame = marker", "step:measure"),
        code("length", "metrics"),
        *failing,
    ])


def test_hostile_values_stay_inert_and_a_failing_step_names_its_cell(write_nb, tmp_path,
                                                                     capsys):
    """One DAG run (python operator) for three promises, to keep the suite short: a
    parameter value full of quotes, Jinja and shell arrives as written, a step that
    raises fails the DAG run with an error naming the step and the cell, and a step over
    its timeout: is stopped."""
    nb = _inert_notebook(write_nb, code("y = length / 0", "step:boom"),
                         code("z = 2", "step:later", "after:boom"),
                         code("import time\ntime.sleep(600)", "step:slow", "timeout:3s"))
    assert main(["run", str(nb), "--backend", "airflow", "--json", "-p",
                 f"text={HOSTILE}"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    failed = [e for e in lines if e["event"] == "step" and e["state"] == "failed"]
    assert sorted(e["step"] for e in failed) == ["boom", "slow"]
    boom = next(e for e in failed if e["step"] == "boom")
    assert "step 'boom' failed in notebook cell 5 (id c4), line 1" in boom["detail"]

    store = RunStore(tmp_path / ".liminal")
    run = store.list_runs()[0]
    assert (run.backend, run.status, run.parameters) == ("airflow", "failed",
                                                         {"text": HOSTILE})
    assert "step 'boom' failed in notebook cell 5 (id c4)" in run.message
    assert "ZeroDivisionError" in run.message
    steps = {s.step: s for s in store.steps(run.run_id)}
    assert {n: s.status for n, s in steps.items()} == {
        "show": "succeeded", "measure": "succeeded", "boom": "failed", "later": "skipped",
        "slow": "failed"}
    # timeout:3s is the task's execution_timeout: Airflow stops the step.
    assert "step 'slow' timed out after 3 s" in steps["slow"].error["message"]
    assert steps["boom"].error["ename"] == "ZeroDivisionError"
    assert steps["boom"].error["cell_id"] == "c4"
    assert _values(steps["show"]) == {"shown": HOSTILE, "marker": "{{ 7 * 7 }}"}
    assert steps["measure"].metrics == {"length": len(HOSTILE)}
    assert not list(tmp_path.rglob("PWNED"))
    # Airflow itself failed the task and the run: its log says so.
    log = (store.run_dir(run.run_id) / "airflow.log").read_text()
    assert "ZeroDivisionError" in log and "state=failed" in log
    # The failed step's notebook as HTML, with its traceback, stored with its artifacts and
    # named in the task's log.
    page = Path(steps["boom"].executed_notebook).with_name("executed.html")
    assert "ZeroDivisionError" in page.read_text()
    assert f"liminal: the executed notebook as HTML: {page}" in log


def test_the_bash_operator_dag_runs_and_keeps_values_inert(write_nb, tmp_path):
    nb = _inert_notebook(write_nb)
    dag_file = tmp_path / "dags" / "inert.py"
    artifacts = tmp_path / "artifacts"
    write_dag(parse_notebook(nb), dag_file,
              DagOptions(operator="bash", artifacts=str(artifacts), dag_id="inert"))
    done = dags_test(dag_file, "inert", {"text": HOSTILE})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    (run,) = list(artifacts.iterdir())
    assert run.name.startswith("manual__") and ":" not in run.name and "+" not in run.name
    states = {s: json.loads((run / s / TASK_STATE).read_text()) for s in ("show", "measure")}
    assert {s: d["state"] for s, d in states.items()} == {"show": "succeeded",
                                                          "measure": "succeeded"}
    assert states["measure"]["metrics"] == {"length": len(HOSTILE)}
    manifest = json.loads((run / "show" / MANIFEST).read_text())
    values = {name: load_value({**saved, "path": str(run / "show" / saved["path"])})
              for name, saved in manifest["outputs"].items()}
    assert values == {"shown": HOSTILE, "marker": "{{ 7 * 7 }}"}
    assert not list(tmp_path.rglob("PWNED"))
