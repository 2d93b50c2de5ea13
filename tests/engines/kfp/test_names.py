"""Step and pipeline names that KFP rejects are turned into valid ones, predictably.

KFP (kfp.dsl.utils) wants pipeline names matching ^[a-z0-9][a-z0-9-]{0,127}$; components
and tasks are named after Python functions, lowercased with every other run of characters
turned into one '-'. Steps may be called `[a-z_][a-z0-9_-]*`, so `a-b` and `a_b` (or
`_private` and `private`) would meet on one KFP name, and `class` is no function name.
"""

from __future__ import annotations

import re

import nbformat
import pytest
import yaml
from kfp import components

from liminal_jupyter.engines.compiling import step_slugs
from liminal_jupyter.engines.kfp.compile import compile_pipeline, kfp_pipeline_name
from liminal_jupyter.engines.kfp.local_backend import run_kfp_local
from liminal_jupyter.notebook.parse import parse_notebook

KFP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
STEPS = ["load-data", "_private", "private", "class", "step", "a-b", "a_b", "a_b_2"]


def make_notebook(path, steps, name=None, metrics=()):
    nb = nbformat.v4.new_notebook()
    if name is not None:
        nb.metadata["liminal"] = {"name": name}
    cells = [nbformat.v4.new_code_cell("k = 2", metadata={"tags": ["parameters"]})]
    before = None
    for i, step in enumerate(steps):
        tags = [f"step:{step}"] + ([f"after:{before}"] if before else [])
        cells.append(nbformat.v4.new_code_cell(f"v{i} = k + {i}", metadata={"tags": tags}))
        if step in metrics:
            cells.append(nbformat.v4.new_code_cell(f"v{i}", metadata={"tags": ["metrics"]}))
        before = step
    nb.cells = cells
    nbformat.write(nb, str(path))
    return path


def compile_to_spec(notebook, tmp_path):
    yaml_path = tmp_path / "out.yaml"
    compile_pipeline(parse_notebook(notebook), yaml_path)
    components.load_component_from_file(str(yaml_path))  # kfp accepts it back
    return yaml_path.read_text(), yaml.safe_load(yaml_path.read_text())


@pytest.mark.parametrize("name, expected", [
    ("My Pipeline!! v2", "my-pipeline-v2"),
    ("  --Ünïcode_name__ ", "unicode-name"),
    ("!!!", "pipeline"),
    ("9 lives", "9-lives"),
    ("x" * 127 + "-y" * 5, "x" * 127),
    ("名前", "pipeline"),
])
def test_pipeline_names_become_kfp_names(name, expected):
    got = kfp_pipeline_name(name)
    assert KFP_NAME.match(got) and not got.endswith("-")
    assert got == expected


def test_metadata_name_and_awkward_step_names_compile(tmp_path):
    nb = make_notebook(tmp_path / "nb.ipynb", STEPS, name="My Pipeline!! v2",
                       metrics=("a-b", "a_b", "class"))
    text, spec = compile_to_spec(nb, tmp_path)
    assert spec["pipelineInfo"]["name"] == "my-pipeline-v2"
    dag = spec["root"]["dag"]["tasks"]
    by_step = {t["taskInfo"]["name"]: key for key, t in dag.items()}
    assert by_step == {
        "load-data": "step-load-data", "_private": "step-private",
        "private": "step-private-2", "class": "step-class", "step": "step-step",
        "a-b": "step-a-b", "a_b": "step-a-b-2", "a_b_2": "step-a-b-2-2",
    }
    for key, task in dag.items():
        assert KFP_NAME.match(key)
        assert task["componentRef"]["name"] == f"comp-{key}"
    # order-only edges survive the renaming
    assert dag["step-a-b-2"]["dependentTasks"] == ["step-a-b"]
    assert dag["step-private"]["dependentTasks"] == ["step-load-data"]
    assert set(spec["root"]["outputDefinitions"]["artifacts"]) == {
        "a_b_metrics", "a_b_2_metrics", "class_metrics"}
    # deterministic: compiling again gives the same YAML
    again, _ = compile_to_spec(nb, tmp_path)
    assert again == text


def test_the_file_name_is_the_fallback_pipeline_name(tmp_path):
    nb = make_notebook(tmp_path / "Churn Model (final).ipynb", ["train"])
    _, spec = compile_to_spec(nb, tmp_path)
    assert KFP_NAME.match(spec["pipelineInfo"]["name"])
    assert spec["pipelineInfo"]["name"].startswith("churn-model")


def test_slugs_are_unique_in_notebook_order_and_avoid_parameters():
    assert step_slugs(["a_b", "a-b"]) == {"a_b": "a_b", "a-b": "a_b_2"}
    assert step_slugs(["a-b", "a_b"]) == {"a-b": "a_b", "a_b": "a_b_2"}
    assert step_slugs(["_9x", "__"]) == {"_9x": "step_9x", "__": "step"}
    # a parameter called `fetch_task` would be shadowed by the task variable
    assert step_slugs(["fetch"], {"fetch_task"}) == {"fetch": "fetch_2"}


def test_renamed_steps_run_under_kfp_local(tmp_path):
    nb = make_notebook(tmp_path / "nb.ipynb", ["a-b", "a_b", "class"], name="Odd Names!",
                       metrics=("a-b", "a_b", "class"))
    run_id, status, metrics = run_kfp_local(nb, {"k": 5})
    assert status == "succeeded", run_id
    assert metrics == {"v0": 5, "v1": 6, "v2": 7}
