"""`liminal-nb submit --engine airflow`, `watch`, `logs`, `show` and `cancel` against a real
Airflow 3 deployment (PostgreSQL, api-server, scheduler, dag-processor, LocalExecutor)
that the test session starts once and stops (airflow_deployment.py).

Each full DAG run costs tens of seconds on two cores, so there are four: iris to success,
the three-notebook pipeline file to success, one notebook whose failing step and hostile
parameter are checked together, and one cancelled while its step sleeps. The one-line
errors need no DAG run at all.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from liminal_jupyter.cli import main
from liminal_jupyter.engines.airflow.rest import AirflowClient, Credentials
from liminal_jupyter.runs.store import RunStore
from liminal_jupyter.step.marshal import load_value
from tests.conftest import EXAMPLES, code
from tests.engines.airflow.airflow_deployment import free_port, processes_with
from tests.engines.airflow.airflow_helpers import HOSTILE

IRIS = EXAMPLES / "iris_classification.ipynb"


def _login(deployment) -> list[str]:
    return ["--host", deployment.url, "--username", deployment.username,
            "--password", deployment.password]


def _submit(deployment, notebook, *extra) -> list[str]:
    return ["submit", str(notebook), "--engine", "airflow", *_login(deployment),
            "--dags-folder", str(deployment.dags), *extra]


def _one_line_error(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: "), text
    return lines[0]


def _submitted_run(capsys) -> str:
    out = capsys.readouterr().out
    assert "submitted Airflow DAG run" in out, out
    return out.split("record: run ", 1)[1].split()[0]


def test_iris_submitted_and_watched_matches_the_local_runner(airflow_deployment, tmp_path,
                                                             capsys):
    notebook = tmp_path / "iris_classification.ipynb"
    shutil.copy(IRIS, notebook)
    assert main(_submit(airflow_deployment, notebook, "-p", "n_estimators=20")) == 0
    run_id = _submitted_run(capsys)
    store = RunStore(tmp_path / ".liminal")
    run = store.get_run(run_id)
    assert (run.backend, run.host, run.parameters) == ("airflow", airflow_deployment.url,
                                                       {"n_estimators": 20})
    assert run.remote_id == f"iris-classification/liminal__{run_id}"
    assert airflow_deployment.password not in (store.run_dir(run_id) / "airflow.json"
                                               ).read_text()
    assert main(["runs", str(tmp_path)]) == 0
    assert run_id in capsys.readouterr().out

    started = time.monotonic()
    assert main(["watch", run_id, "--dir", str(tmp_path), "--interval", "1",
                 "--username", airflow_deployment.username,
                 "--password", airflow_deployment.password]) == 0
    watched = capsys.readouterr().out
    print(f"iris on the deployment: watched to the end in {time.monotonic() - started:.1f} s")
    for step in ("fetch", "prepare", "train", "evaluate", "validate"):
        assert f"{step:<16} running" in watched and f"{step:<16} succeeded" in watched
    assert watched.strip().endswith(f"run liminal__{run_id} succeeded")

    # The same notebook run locally: the same metrics and values.
    assert main(["run", "--no-tracking", "--json", "-p", "n_estimators=20",
                 str(notebook)]) == 0
    local_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    remote = {s.step: s for s in store.steps(run_id)}
    local = {s.step: s for s in store.steps(local_id)}
    assert store.get_run(run_id).status == "succeeded"
    for name, mine in local.items():
        theirs = remote[name]
        assert theirs.status == "succeeded" and theirs.ended > theirs.started
        assert theirs.metrics == pytest.approx(mine.metrics, abs=1e-12)
        assert set(theirs.outputs) == set(mine.outputs)
    assert load_value(remote["evaluate"].outputs["accuracy"]) == pytest.approx(
        load_value(local["evaluate"].outputs["accuracy"]))

    assert main(["show", run_id, "--dir", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "metrics: accuracy=" in shown and "executed.ipynb" in shown
    assert main(["logs", run_id, "evaluate", "--dir", str(tmp_path),
                 "--username", airflow_deployment.username,
                 "--password", airflow_deployment.password]) == 0
    assert "liminal: metric accuracy = " in capsys.readouterr().out


WINE_STEPS = ("load", "clean", "split", "train", "evaluate")


def test_a_pipeline_file_of_three_notebooks_submitted_matches_the_local_runner(
        airflow_deployment, tmp_path, capsys):
    """liminal.yml (docs/pipelines.md): every notebook's steps in one DAG on the
    deployment, each running its own notebook's prelude, recorded against the file."""
    folder = tmp_path / "wine_pipeline"
    shutil.copytree(EXAMPLES / "wine_pipeline", folder)
    pipeline_file = folder / "liminal.yml"
    assert main(_submit(airflow_deployment, pipeline_file, "-p", "C=0.3")) == 0
    run_id = _submitted_run(capsys)
    store = RunStore(folder / ".liminal")
    assert store.get_run(run_id).notebook.endswith("liminal.yml")
    assert main(["watch", run_id, "--dir", str(folder), "--interval", "1",
                 "--username", airflow_deployment.username,
                 "--password", airflow_deployment.password]) == 0
    assert capsys.readouterr().out.strip().endswith(f"run liminal__{run_id} succeeded")

    assert main(["run", "--no-tracking", "--json", "-p", "C=0.3", str(pipeline_file)]) == 0
    local_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    remote = {s.step: s for s in store.steps(run_id)}
    local = {s.step: s for s in store.steps(local_id)}
    assert set(remote) == set(local) == set(WINE_STEPS)
    for name, mine in local.items():
        assert remote[name].status == "succeeded", name
        assert remote[name].metrics == pytest.approx(mine.metrics, abs=1e-12)
        assert set(remote[name].outputs) == set(mine.outputs)
    assert remote["evaluate"].metrics["accuracy"] > 0.9
    assert main(["runs", str(pipeline_file)]) == 0
    assert run_id in capsys.readouterr().out


def test_a_failing_step_names_its_cell_and_a_hostile_parameter_stays_inert(
        airflow_deployment, write_nb, tmp_path, capsys):
    nb = write_nb([
        code("text = 'plain'", "parameters"),
        code("shown = text\nmarker = '{{ 7 * 7 }}'", "step:show"),
        code("y = len(shown + marker) / 0", "step:boom"),
    ], {"liminal": {"name": "boom"}})
    assert main(_submit(airflow_deployment, nb, "-p", f"text={HOSTILE}")) == 0
    run_id = _submitted_run(capsys)
    assert main(["watch", run_id, "--dir", str(tmp_path), "--interval", "1",
                 *_login(airflow_deployment)[2:]]) == 1
    err = capsys.readouterr().err
    assert f"run liminal__{run_id} failed" in err
    assert "step 'boom' failed in notebook cell 3 (id c2), line 1" in err
    assert "ZeroDivisionError" in err

    store = RunStore(tmp_path / ".liminal")
    run = store.get_run(run_id)
    assert (run.status, run.parameters) == ("failed", {"text": HOSTILE})
    assert "step 'boom' failed in notebook cell 3 (id c2)" in run.message
    steps = {s.step: s for s in store.steps(run_id)}
    assert (steps["show"].status, steps["boom"].status) == ("succeeded", "failed")
    assert steps["boom"].error["cell_id"] == "c2"
    assert load_value(steps["show"].outputs["shown"]) == HOSTILE
    assert load_value(steps["show"].outputs["marker"]) == "{{ 7 * 7 }}"
    assert not list(tmp_path.rglob("PWNED")) and not list(airflow_deployment.home.rglob(
        "PWNED"))


def test_cancel_marks_the_dag_run_failed_and_stops_its_task(airflow_deployment, write_nb,
                                                            tmp_path, capsys):
    nb = write_nb([code("import time\ntime.sleep(300)", "step:slow")],
                  {"liminal": {"name": "slow"}})
    assert main(_submit(airflow_deployment, nb)) == 0
    run_id = _submitted_run(capsys)
    client = AirflowClient(airflow_deployment.url, Credentials(
        airflow_deployment.username, airflow_deployment.password))
    dag_run = f"liminal__{run_id}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = {t["task_id"]: t["state"] for t in client.task_instances("slow", dag_run)}
        if states.get("slow") == "running":
            break
        time.sleep(1)
    assert states.get("slow") == "running", states
    assert main(["cancel", run_id, "--dir", str(tmp_path),
                 *_login(airflow_deployment)[2:]]) == 0
    assert f"cancelled DAG run {dag_run} of slow" in capsys.readouterr().out
    assert client.dag_run("slow", dag_run)["state"] == "failed"
    assert RunStore(tmp_path / ".liminal").get_run(run_id).status == "cancelled"
    while time.monotonic() < deadline:  # Airflow stops the task, well before its 300 s
        state = {t["task_id"]: t["state"] for t in client.task_instances("slow", dag_run)}
        if state.get("slow") != "running":
            break
        time.sleep(1)
    assert state.get("slow") != "running", state
    # ...and the step's own process ends (the task supervisor's heartbeat learns the task
    # instance was failed and kills the task's process group).
    while processes_with(str(tmp_path), "cmdline") and time.monotonic() < deadline:
        time.sleep(1)
    assert not processes_with(str(tmp_path), "cmdline")
    assert main(["cancel", run_id, "--dir", str(tmp_path),
                 *_login(airflow_deployment)[2:]]) == 2
    assert "already ended (failed)" in _one_line_error(capsys.readouterr().err)


def test_wrong_credentials_unreachable_host_import_error_unknown_run_are_one_line(
        airflow_deployment, write_nb, tmp_path, capsys):
    nb = write_nb([code("x = 1", "step:a")], {"liminal": {"name": "bad-schedule",
                                                          "schedule": "not a cron"}})
    dags = str(airflow_deployment.dags)
    wrong = ["submit", str(nb), "--engine", "airflow", "--host", airflow_deployment.url,
             "--dags-folder", dags, "--username", "admin", "--password", "wrong"]
    assert main(wrong) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert "refused the credentials (HTTP 401" in line
    assert not (airflow_deployment.dags / "bad-schedule.py").exists()  # nothing written

    unreachable = f"http://127.0.0.1:{free_port()}"
    assert main([*wrong[:5], unreachable, *wrong[6:]]) == 1
    assert f"cannot reach Airflow at {unreachable}" in _one_line_error(
        capsys.readouterr().err)

    assert main(_submit(airflow_deployment, nb)) == 1
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.startswith(("waiting", "note:"))]
    line = _one_line_error("\n".join(err))
    assert "could not import the DAG file" in line and "bad-schedule.py" in line
    assert "AirflowTimetableInvalid" in line  # Airflow's own message
    # Airflow's trace names no line of the file: the schedule argument's line is given.
    assert "of bad-schedule.py, its schedule argument)" in line
    assert not (airflow_deployment.dags / "bad-schedule.py").exists()
    assert not RunStore(tmp_path / ".liminal").list_runs()

    assert main(["watch", "nope/nope", *_login(airflow_deployment)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "was not found" in line and "nope" in line


def test_the_python_api_submits_and_the_engine_follows_logs_and_cancels(
        airflow_deployment, write_nb, tmp_path, monkeypatch):
    """Pipeline.submit(engine="airflow") goes through Engine.submit; the engine then asks
    the deployment with the credentials submit was given (kept in this process's memory,
    never in the ledger): status, a step's task log, cancel."""
    from liminal_jupyter.api import Pipeline
    from liminal_jupyter.engines import secrets
    from liminal_jupyter.engines.registry import get_engine

    for name in ("USERNAME", "PASSWORD", "TOKEN", "HOST"):
        monkeypatch.delenv(f"LIMINAL_AIRFLOW_{name}", raising=False)
    secrets.forget_all()
    nb = write_nb([code("print('metric-ish line', flush=True)", "step:first"),
                   code("import time\ntime.sleep(300)", "step:slow")],
                  {"liminal": {"name": "api-slow"}})
    run = Pipeline.from_notebook(nb).submit(
        engine="airflow", host=airflow_deployment.url,
        settings={"dags_folder": str(airflow_deployment.dags),
                  "username": airflow_deployment.username,
                  "password": airflow_deployment.password})
    record = run.record
    assert (record.backend, record.host) == ("airflow", airflow_deployment.url)
    assert record.remote_id == f"api-slow/liminal__{run.run_id}"
    engine = get_engine("airflow")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and run.steps != {"first": "succeeded",
                                                        "slow": "running"}:
        time.sleep(1)  # the two steps are independent: they run side by side
    assert run.steps == {"first": "succeeded", "slow": "running"}  # asked through the engine
    log = engine.logs(run.store, run.run_id, "first")
    assert log and "first" in log  # Airflow's own task log, through its REST API
    assert engine.logs(run.store, run.run_id, "nope") is None
    assert engine.cancel(run.store, run.run_id) is True
    assert run.status == "cancelled"
    client = AirflowClient(airflow_deployment.url, Credentials(
        airflow_deployment.username, airflow_deployment.password))
    assert client.dag_run("api-slow", f"liminal__{run.run_id}")["state"] == "failed"
    assert engine.cancel(run.store, run.run_id) is False  # it ended
    ledger = b"".join(p.read_bytes() for p in (tmp_path / ".liminal").rglob("*")
                      if p.is_file())
    assert airflow_deployment.password.encode() not in ledger
    while processes_with(str(tmp_path), "cmdline") and time.monotonic() < deadline:
        time.sleep(1)  # the step's process ends before the test's folder goes
