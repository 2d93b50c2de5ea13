"""The step executor: a step runs in its own kernel, passes values on, and fails clearly.

Every test here starts real kernels through papermill (about two seconds each), so each
one runs as few steps as it needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.step.execute import StepResult, execute_step

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "example_notebooks" / "iris_classification.ipynb"
FUNCTIONS = REPO / "tests" / "notebooks" / "functions_across_steps.ipynb"


def cell(source: str, *tags: str) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)},
            "outputs": [], "execution_count": None}


def cell_outputs(executed: str, cell_id: str) -> str:
    """The text a cell of an executed notebook printed."""
    nb = json.loads(Path(executed).read_text())
    (found,) = [c for c in nb["cells"] if c.get("id") == cell_id]
    return "".join("".join(o.get("text", "")) for o in found["outputs"])


def test_the_iris_pipeline_runs_step_by_step(tmp_path):
    pipeline = parse_notebook(IRIS)
    available: dict[str, dict] = {}
    results: dict[str, StepResult] = {}
    for name in ["fetch", "prepare", "train", "evaluate", "validate"]:
        result = execute_step(pipeline, name, {}, available, tmp_path / name)
        assert result.succeeded, result.error and result.error.render()
        assert Path(result.executed_notebook).is_file()
        available.update(result.outputs)
        results[name] = result

    metrics = results["evaluate"].metrics
    assert set(metrics) == {"accuracy", "f1"}
    assert all(type(v) is float and 0 <= v <= 1 for v in metrics.values())
    assert results["train"].outputs["clf"]["marshaller"] == "joblib"
    assert set(results["prepare"].outputs) == {"X_train", "X_test", "y_train", "y_test"}
    assert json.loads((tmp_path / "evaluate" / "outputs.json").read_text())["metrics"] == metrics


def test_a_failing_step_names_the_original_cell_and_line(write_nb, tmp_path):
    path = write_nb([
        cell("def check(x):\n    if x == 0:\n        raise ValueError('x must not be zero')\n"
             "    return x", "functions"),
        cell("values = [1, 2, 3]", "step:ratio"),
        cell("total = sum(values)\nratio = total / check(0)\nprint(ratio)"),
    ])
    result = execute_step(parse_notebook(path), "ratio", {}, {}, tmp_path / "out")

    error = result.error
    assert result.status == "failed" and error is not None
    assert (error.stage, error.cell_index, error.cell_id, error.line) == ("step", 2, "c2", 2)
    assert (error.ename, error.evalue) == ("ValueError", "x must not be zero")
    assert not any("\x1b[" in line for line in error.traceback)
    assert Path(error.executed_notebook).is_file()
    assert error.executed_notebook == result.executed_notebook
    assert error.render() == (
        f"step 'ratio' failed in notebook cell 3 (id c2), line 2 of {path}: ValueError: "
        f"x must not be zero; the executed notebook with the error in place is at "
        f"{error.executed_notebook}"
    )
    assert not (tmp_path / "out" / "outputs.json").exists()


def test_an_open_file_cannot_be_passed_to_the_next_step(write_nb, tmp_path):
    path = write_nb([
        cell("handle = open('notes.txt', 'w')", "step:open"),
        cell("handle.write('x')", "step:write"),
    ])
    result = execute_step(parse_notebook(path), "open", {}, {}, tmp_path / "out")

    error = result.error
    assert error is not None and (error.stage, error.ename) == ("save", "MarshalError")
    assert "variable 'handle' in step 'open' (an open file" in error.evalue
    assert "while saving its outputs" in error.render()
    assert Path(result.executed_notebook).is_file()


def test_an_input_that_cannot_be_loaded_fails_in_the_load_cell(write_nb, tmp_path):
    path = write_nb([cell("x = 1", "step:a"), cell("print(x)", "step:b")])
    gone = {"name": "x", "marshaller": "json", "path": str(tmp_path / "x.json"),
            "sha256": "0" * 64, "size": 1}
    result = execute_step(parse_notebook(path), "b", {}, {"x": gone}, tmp_path / "out")

    error = result.error
    assert error is not None and (error.stage, error.ename) == ("load", "MarshalError")
    assert "variable 'x' in step 'b' could not be loaded" in error.evalue
    assert "while loading its inputs" in error.render()


def test_a_metric_must_be_a_number(write_nb, tmp_path):
    path = write_nb([
        cell("score = 0.75\nlabel = 'good'", "step:judge"),
        cell("score\nlabel", "metrics"),
    ])
    result = execute_step(parse_notebook(path), "judge", {}, {}, tmp_path / "out")

    error = result.error
    assert error is not None and (error.stage, error.ename) == ("save", "MetricError")
    assert "metric 'label' (label) of step 'judge' is builtins.str 'good'" in error.evalue


def test_bad_parameters_are_rejected_before_anything_runs(tmp_path):
    pipeline = parse_notebook(IRIS)
    with pytest.raises(ValueError, match="no parameter 'n_estimaters'"):
        execute_step(pipeline, "train", {"n_estimaters": 3}, {}, tmp_path)
    with pytest.raises(ValueError, match="not a Python name"):
        execute_step(pipeline, "train", {"x = 1; import os\nn": 3}, {}, tmp_path)
    with pytest.raises(ValueError, match="must be a JSON value"):
        execute_step(pipeline, "train", {"max_depth": object()}, {}, tmp_path)
    assert not (tmp_path / "executed.ipynb").exists()


# -- the command line, and functions that cross steps -------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "liminal_jupyter.step", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def step_a_by_cli(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """Step `a` of the functions notebook, run through the command line a pod would use."""
    root = tmp_path_factory.mktemp("cli")
    pipeline_json = root / "pipeline.json"
    pipeline_json.write_text(json.dumps(parse_notebook(FUNCTIONS).to_json()))
    done = run_cli("run", "--pipeline", str(pipeline_json), "--step", "a",
                   "--output-dir", str(root / "a"))
    return root, done


def test_the_command_line_runs_a_step_and_writes_its_result(step_a_by_cli):
    root, done = step_a_by_cli
    assert done.returncode == 0, done.stderr
    result = StepResult.from_dict(json.loads((root / "a" / "result.json").read_text()))
    assert result.succeeded and set(result.outputs) == {"area", "rounded"}
    assert result.executed_notebook == str(root / "a" / "executed.ipynb")
    assert "step 'a' succeeded" in done.stdout


def test_a_function_from_an_earlier_step_sees_the_later_steps_names(step_a_by_cli):
    root, _ = step_a_by_cli
    pipeline = parse_notebook(FUNCTIONS)
    assert {i.name: i.producer for i in pipeline.step("b").inputs} == {
        "area": "a", "rounded": "a",
    }
    inputs = json.loads((root / "a" / "outputs.json").read_text())["outputs"]
    result = execute_step(pipeline, "b", {}, inputs, root / "b")

    assert result.succeeded, result.error and result.error.render()
    # area uses the prelude's math; rounded uses `digits`, which only step b defines.
    assert cell_outputs(result.executed_notebook, "fn-3") == "12.566370614359172\n12.5664\n"


def test_the_command_line_rejects_bad_arguments_with_exit_2(tmp_path):
    pipeline_json = tmp_path / "pipeline.json"
    pipeline_json.write_text(json.dumps(parse_notebook(FUNCTIONS).to_json()))
    done = run_cli("run", "--pipeline", str(pipeline_json), "--step", "nope",
                   "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "no step named 'nope'; its steps are a, b" in done.stderr
    assert "Traceback" not in done.stderr

    assert run_cli("run", "--step", "a").returncode == 2
    not_json = tmp_path / "p.json"
    not_json.write_text("{")
    done = run_cli("run", "--pipeline", str(not_json), "--step", "a", "--output-dir", "x")
    assert done.returncode == 2 and "not valid JSON" in done.stderr


def test_a_step_ended_by_sys_exit_names_its_cell_not_a_missing_manifest(write_nb, tmp_path):
    """papermill ends a notebook at `sys.exit(0)` as a success, so a step's save cell never
    ran; the step fails at the user's cell, saying why (it said 'manifest missing')."""
    path = write_nb([
        cell("rows = [1, 2]", "step:load"),
        cell("import sys\nif len(rows) < 5:\n    sys.exit(0)\ntotal = sum(rows)"),
        cell("print('after the exit')"),
    ])
    result = execute_step(parse_notebook(path), "load", {}, {}, tmp_path / "out")

    error = result.error
    assert result.status == "failed" and error is not None
    assert (error.stage, error.cell_index, error.cell_id, error.ename) == (
        "step", 1, "c1", "SystemExit")
    assert error.evalue.startswith("sys.exit(0) ended the step before it saved its outputs")
    assert "must run to its last cell" in error.render()
    assert "after the exit" not in cell_outputs(result.executed_notebook, "c2")


def test_a_cell_failing_without_an_error_output_is_explained_by_its_stderr(write_nb, tmp_path):
    """IPython reports a line magic that does not exist with no error output, only
    'UsageError: ...' on stderr; the step's error quotes it (it was a bare
    'CellExecutionError')."""
    path = write_nb([cell("x = 1", "step:magic"), cell("%undefined-line-magic")])
    result = execute_step(parse_notebook(path), "magic", {}, {}, tmp_path / "out")

    error = result.error
    assert result.status == "failed" and error is not None
    assert (error.stage, error.cell_index) == ("step", 1)
    assert error.evalue == "UsageError: Line magic function `%undefined-line-magic` not found."
