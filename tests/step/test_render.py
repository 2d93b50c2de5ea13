"""The step notebook: which cells a step runs, in what order, and how values reach it."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.pipeline import Pipeline
from liminal_jupyter.step.execute import execute_step
from liminal_jupyter.step.marshal import MarshalError, load_value
from liminal_jupyter.step.render import MetricError, render_step, save_outputs

IRIS = Path(__file__).resolve().parents[2] / "example_notebooks" / "iris_classification.ipynb"


def cell(source: str, *tags: str) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)},
            "outputs": [], "execution_count": None}


def record(name: str, path: str = "/nowhere/x.json") -> dict:
    """A saved-value record; rendering checks its shape, only the kernel reads the file."""
    return {"name": name, "marshaller": "json", "path": path, "sha256": "0" * 64, "size": 1}


def role(nb_cell) -> str | None:
    return nb_cell.metadata.get("liminal", {}).get("role")


def load_payload(nb) -> dict:
    """The JSON the load cell hands to the kernel, read from the cell's syntax tree."""
    load = next(c for c in nb.cells if role(c) == "load")
    calls = [n for n in ast.walk(ast.parse(load.source)) if isinstance(n, ast.Call)]
    (call,) = [c for c in calls if getattr(c.func, "id", "") == "_liminal_load_inputs"]
    assert isinstance(call.args[1], ast.Constant)
    return json.loads(call.args[1].value)


@pytest.fixture(scope="module")
def iris() -> Pipeline:
    return parse_notebook(IRIS)


def test_cells_come_in_order_with_their_roles(iris, tmp_path):
    nb = render_step(iris, "train", {"X_train": record("X_train"), "y_train": record("y_train")},
                     str(tmp_path))

    nbformat.validate(nb)
    assert [role(c) for c in nb.cells] == ["parameters", "prelude", "prelude", "load", "step",
                                          "save"]
    assert nb.cells[0].metadata.tags == ["parameters"]
    assert nb.metadata.liminal == {"pipeline": "iris-classification", "step": "train"}
    assert nb.metadata.kernelspec.name == "python3"


def test_copied_cells_keep_their_source_id_and_origin(iris, tmp_path):
    nb = render_step(iris, "fetch", {}, str(tmp_path))
    copied = [c for c in nb.cells if role(c) in ("prelude", "step")]
    originals = [*iris.prelude, *iris.step("fetch").cells]

    assert [c.source for c in copied] == [ref.source for ref in originals]
    assert [c.id for c in copied] == [ref.id for ref in originals]
    assert [c.metadata.liminal["source_cell"] for c in copied] == [
        {"index": ref.index, "id": ref.id} for ref in originals
    ]


def test_parameters_cell_holds_every_parameters_cell_in_order(write_nb, tmp_path):
    path = write_nb([
        cell("alpha = 0.5  # learning rate", "parameters"),
        cell("import os", "imports"),
        cell('name = "run"', "parameters"),
        cell("result = alpha * len(name)", "step:train"),
    ])
    nb = render_step(parse_notebook(path), "train", {}, str(tmp_path / "out"))

    assert nb.cells[0].source == 'alpha = 0.5  # learning rate\n\nname = "run"'
    assert nb.cells[0].metadata.liminal["source_cells"] == [
        {"index": 0, "id": "c0"}, {"index": 2, "id": "c2"},
    ]


def test_without_parameters_there_is_still_a_cell_for_papermill(write_nb, tmp_path):
    nb = render_step(parse_notebook(write_nb([cell("x = 1", "step:a")])), "a", {}, str(tmp_path))

    assert nb.cells[0].metadata.tags == ["parameters"]
    assert nb.cells[0].source == ""


def test_without_the_notebook_the_parameters_cell_assigns_the_defaults(iris, tmp_path):
    # As in a pod that received only the pipeline's JSON.
    pipeline = Pipeline.from_json({**iris.to_json(), "notebook": str(tmp_path / "gone.ipynb")})
    source = render_step(pipeline, "fetch", {}, str(tmp_path)).cells[0].source

    namespace: dict = {}
    exec(source, namespace)
    assert {p.name: namespace[p.name] for p in iris.parameters} == {
        p.name: p.default for p in iris.parameters
    }


def test_input_records_reach_the_kernel_as_data_never_as_code(iris, tmp_path):
    evil = "/tmp/a'b\"c\n'); __import__('os').system('touch pwned') #.parquet"
    inputs = {"X_train": record("X_train", evil), "y_train": record("y_train"), "extra": {}}
    nb = render_step(iris, "train", inputs, str(tmp_path))

    assert load_payload(nb)["inputs"]["X_train"]["path"] == evil
    assert "extra" not in load_payload(nb)["inputs"]
    for c in nb.cells:
        names = {n.id for n in ast.walk(ast.parse(c.source)) if isinstance(n, ast.Name)}
        assert "__import__" not in names


def test_imports_of_earlier_steps_run_again_and_must_be_imports(write_nb, tmp_path):
    pipeline = parse_notebook(write_nb([
        cell("import json as j\nx = 1", "step:a"),
        cell("print(j.dumps(x))", "step:b"),
    ]))
    load = next(c for c in render_step(pipeline, "b", {"x": record("x")}, str(tmp_path)).cells
                if role(c) == "load")
    assert "import json as j" in load.source.splitlines()

    (imported,) = [i for i in pipeline.step("b").inputs if i.kind == "import"]
    imported.statement = "import os; os.system('x')"
    with pytest.raises(ValueError, match="not an import statement"):
        render_step(pipeline, "b", {"x": record("x")}, str(tmp_path))


def test_a_missing_input_names_the_variable_and_its_producer(iris, tmp_path):
    with pytest.raises(ValueError, match=r"'X_train' \(from step 'prepare'\)"):
        render_step(iris, "train", {"y_train": record("y_train")}, str(tmp_path))


def test_an_unknown_step_lists_the_steps(iris, tmp_path):
    with pytest.raises(ValueError, match="fetch, prepare, train, evaluate, validate"):
        render_step(iris, "deploy", {}, str(tmp_path))


def test_a_string_parameter_reaches_the_step_verbatim_and_never_runs(write_nb, tmp_path):
    marker = tmp_path / "pwned"
    evil = (
        f"it's \"quoted\"\nline two \\ '''\"\"\" {{braces}} \u2028"
        f"\"); __import__('os').system('touch {marker}') #"
    )
    path = write_nb([
        cell('message = "hello"', "parameters"),
        cell("echo = message", "step:echo"),
        cell("print(echo)", "step:show"),
    ])
    result = execute_step(parse_notebook(path), "echo", {"message": evil}, {}, tmp_path / "out")

    assert result.succeeded, result.error and result.error.render()
    assert load_value(result.outputs["echo"]) == evil
    assert not marker.exists()


# -- what the load and save cells call, inside the kernel -------------------------------


def save_payload(tmp_path: Path, outputs: list[str], metrics: dict[str, str]) -> str:
    return json.dumps({
        "step": "s", "output_dir": str(tmp_path), "outputs": outputs,
        "metrics": [{"name": k, "expression": v} for k, v in metrics.items()],
    })


def test_save_writes_outputs_and_numeric_metrics_into_the_manifest(tmp_path):
    import numpy as np

    namespace = {"model": {"w": [1, 2]}, "acc": np.float32(0.5), "ok": np.bool_(True),
                 "loss": np.array(0.25), "n": 3}
    metrics = {"acc": "acc", "ok": "ok", "loss": "loss * 2", "n": "n"}
    save_outputs(namespace, save_payload(tmp_path, ["model"], metrics))

    manifest = json.loads((tmp_path / "outputs.json").read_text())
    assert manifest["metrics"] == {"acc": 0.5, "ok": 1.0, "loss": 0.5, "n": 3.0}
    assert load_value(manifest["outputs"]["model"]) == {"w": [1, 2]}
    assert Path(manifest["outputs"]["model"]["path"]).parent == tmp_path / "artifacts"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "outputs.json"]


def test_save_names_an_output_the_step_did_not_define(tmp_path):
    with pytest.raises(MarshalError, match="'model' in step 's' is not defined at the end"):
        save_outputs({}, save_payload(tmp_path, ["model"], {}))
    assert not (tmp_path / "outputs.json").exists()


@pytest.mark.parametrize(("expression", "problem"), [
    ("'good'", "is builtins.str 'good', not a number"),
    ("float('nan')", "is nan; a metric must be a finite number"),
    ("undefined_name", "could not be computed: NameError"),
])
def test_save_names_a_metric_that_is_not_a_number(tmp_path, expression, problem):
    with pytest.raises(MetricError, match=f"metric 'm' \\({re.escape(expression)}\\) of step "
                       f"'s' {re.escape(problem)}"):
        save_outputs({}, save_payload(tmp_path, [], {"m": expression}))
