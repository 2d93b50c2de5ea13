"""What a task runs (runtime.run_task), without Airflow: run folders, remote artifacts.

An fsspec URL for ARTIFACTS is what workers that share no disk use; `memory://` stands in
for s3:// here (the same fsspec calls), with both steps run in this process.
"""

from __future__ import annotations

import json

import fsspec
import pytest

from liminal_jupyter.engines.airflow.runtime import (
    MANIFEST,
    TASK_STATE,
    StepFailed,
    clean_run_id,
    parameter_values,
    run_task,
)
from liminal_jupyter.engines.airflow.task import main as task_main
from liminal_jupyter.notebook.parse import parse_notebook
from tests.conftest import code
from tests.engines.airflow.airflow_helpers import isolated_airflow  # noqa: F401


def test_run_ids_become_safe_folder_names():
    assert clean_run_id("manual__2026-11-26T15:00:00.1+00:00") == \
        "manual__2026-11-26T15_00_00.1_00_00"
    assert clean_run_id("../../etc") == "etc"  # no separators, no leading dots
    assert clean_run_id("") == "run"


def test_params_keep_declared_names_and_types(write_nb):
    pipeline = parse_notebook(write_nb([code("n = 1\nx = 0.5\nseed = None", "parameters"),
                                        code("y = n * x", "step:one")]))
    given = {"n": 3.0, "x": 2, "seed": None, "not_a_parameter": "ignored"}
    assert parameter_values(pipeline, given) == {"n": 3, "x": 2.0}
    assert isinstance(parameter_values(pipeline, given)["x"], float)


def test_steps_pass_values_through_a_remote_artifact_store(write_nb, tmp_path, capsys):
    nb = write_nb([
        code("k = 2", "parameters"),
        code("values = list(range(k))\nprint('made', len(values), 'values')", "step:make"),
        code("total = sum(values)", "step:add"),
        code("total", "metrics"),
    ])
    ir = json.dumps(parse_notebook(nb).to_json())
    root = f"memory://liminal-test-{tmp_path.name}"
    run_id = "manual__2026-11-26T15:00:00+00:00"
    assert run_task(ir, "make", {"k": 5}, run_id, root, workdir=str(tmp_path)) == {}
    assert run_task(ir, "add", {"k": 5}, run_id, root, workdir=str(tmp_path)) == {"total": 10}

    fs = fsspec.filesystem("memory")
    folder = f"{root}/{clean_run_id(run_id)}"
    manifest = json.loads(fs.cat(f"{folder}/make/{MANIFEST}"))
    assert manifest["outputs"]["values"]["path"] == "artifacts/values.json"
    assert fs.exists(f"{folder}/make/artifacts/values.json")
    state = json.loads(fs.cat(f"{folder}/add/{TASK_STATE}"))
    assert (state["state"], state["metrics"]) == ("succeeded", {"total": 10})
    # The executed notebook as HTML is stored with the step's artifacts, named in the log.
    assert "made 5 values" in fs.cat(f"{folder}/make/executed.html").decode()
    logged = capsys.readouterr().out
    assert f"liminal: the executed notebook as HTML: {folder}/make/executed.html" in logged
    assert f"liminal: the executed notebook as HTML: {folder}/add/executed.html" in logged


def test_a_step_whose_upstream_never_ran_fails_clearly(write_nb, tmp_path):
    nb = write_nb([code("a = 1", "step:one"), code("b = a", "step:two")])
    ir = json.dumps(parse_notebook(nb).to_json())
    with pytest.raises(StepFailed, match="outputs of step 'one' are not in"):
        run_task(ir, "two", {}, "r1", str(tmp_path / "artifacts"))


def test_the_task_command_refuses_missing_variables(capsys):
    assert task_main({"LIMINAL_STEP": "x"}) == 2
    assert "LIMINAL_PIPELINE" in capsys.readouterr().err


CONNECTION_CHECK = """
import json, sys
from liminal_jupyter.engines.airflow.runtime import StepFailed, run_task
from liminal_jupyter.engines.airflow.storage import storage_options
print("OPTIONS", json.dumps(storage_options("team_s3")))
try:
    run_task(sys.argv[1], "one", {}, "r1", "s3://bucket/runs", connection="missing_conn")
except StepFailed as exc:
    print("FAILED", exc)
"""


def test_s3_keys_come_from_the_airflow_connection_the_dag_names(write_nb, tmp_path):
    """Airflow's own lookup (its environment-variable secrets backend, which a task's
    Connection.get also reads) gives s3fs the connection's keys, endpoint and region; a
    connection Airflow does not know fails the task in one line before it writes a state."""
    import subprocess
    import sys

    nb = write_nb([code("a = 1", "step:one")])
    ir = json.dumps(parse_notebook(nb).to_json())
    connection = {"conn_type": "aws", "login": "login-key", "password": "login-secret",
                  "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"}}
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "af"),
           "AIRFLOW_CONN_TEAM_S3": json.dumps(connection)}
    done = subprocess.run([sys.executable, "-c", CONNECTION_CHECK, ir], env=env,
                          capture_output=True, text=True, timeout=300)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines()
                 if line.startswith(("OPTIONS ", "FAILED ")))
    assert done.returncode == 0 and len(lines) == 2, done.stdout + done.stderr
    assert json.loads(lines["OPTIONS"]) == {
        "key": "login-key", "secret": "login-secret",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"}}
    assert lines["FAILED"] == ("the artifacts connection 'missing_conn' cannot be read from "
                               "Airflow: AirflowNotFoundException: The conn_id `missing_conn` "
                               "isn't defined")
