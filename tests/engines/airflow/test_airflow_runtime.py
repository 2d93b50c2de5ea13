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
