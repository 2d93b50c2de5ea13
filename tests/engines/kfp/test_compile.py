"""`liminal-nb compile`: KFP v2 IR YAML from the kfp SDK compiler, run with kfp.local.

kfp.local is process-wide state and prints task logs to stdout, so every pipeline run
happens in a child process that prints its pipeline outputs (the metrics) as JSON. It runs
the steps in this interpreter, an "image" with liminal-jupyter: pipelines run here are
compiled with install_runtime=False (tests/engines/kfp/test_stock_image.py runs a stock one).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kfp import components

from liminal_jupyter.cli_compile import add_compile_command
from liminal_jupyter.engines.kfp.compile import compile_pipeline, generate_module
from liminal_jupyter.notebook.parse import parse_notebook
from tests.conftest import EXAMPLES, TEST_NOTEBOOKS, code
from tests.engines.kfp.kfp_local_run import RUN_SCRIPT, run_kfp_local

IRIS = EXAMPLES / "iris_classification.ipynb"
TITANIC = TEST_NOTEBOOKS / "kale_titanic_style.ipynb"
LIMINAL_NB = Path(sys.executable).with_name("liminal-nb")

def compile_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="liminal-nb")
    add_compile_command(parser.add_subparsers())
    args = parser.parse_args(["compile", *argv])
    return args.handler(args)


def tasks(spec: dict) -> dict:
    return spec["root"]["dag"]["tasks"]


def test_iris_compiles_to_one_typed_task_per_step(tmp_path, capsys):
    notebook = tmp_path / "iris_classification.ipynb"
    shutil.copy(IRIS, notebook)
    assert compile_cli(str(notebook), "--python") == 0
    yaml_path = tmp_path / "iris_classification.pipeline.yaml"
    assert str(yaml_path) in capsys.readouterr().out
    assert (tmp_path / "iris_classification_kfp.py").is_file()
    components.load_component_from_file(str(yaml_path))  # raises on unknown fields
    spec = yaml.safe_load(yaml_path.read_text())
    assert spec["pipelineInfo"]["name"] == "iris-classification"
    dag = tasks(spec)
    assert {t["taskInfo"]["name"] for t in dag.values()} == {
        "fetch", "prepare", "train", "evaluate", "validate"}
    deps = {t["taskInfo"]["name"]: sorted(t.get("dependentTasks", [])) for t in dag.values()}
    assert deps == {"fetch": [], "prepare": ["step-fetch"], "train": ["step-prepare"],
                    "evaluate": ["step-prepare", "step-train"], "validate": ["step-evaluate"]}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert {n: p["parameterType"] for n, p in params.items()} == {
        "test_size": "NUMBER_DOUBLE", "n_estimators": "NUMBER_INTEGER",
        "max_depth": "NUMBER_INTEGER", "random_state": "NUMBER_INTEGER",
        "min_accuracy": "NUMBER_DOUBLE"}
    assert params["n_estimators"]["defaultValue"] == 100
    train = spec["deploymentSpec"]["executors"]["exec-step-train"]["container"]
    assert train["resources"]["resourceCpuLimit"] == "1"
    assert train["resources"]["resourceMemoryLimit"] == "1Gi"
    assert spec["components"]["comp-step-train"]["inputDefinitions"]["parameters"].keys() == {
        "n_estimators", "max_depth", "random_state"}


def test_kale_style_notebook_and_options(tmp_path):
    yaml_path = tmp_path / "out" / "titanic.yaml"
    assert compile_cli(str(TITANIC), "-o", str(yaml_path), "--image", "reg/ml:1") == 0
    components.load_component_from_file(str(yaml_path))
    spec = yaml.safe_load(yaml_path.read_text())
    dag = tasks(spec)
    assert len(dag) == 5
    assert sorted(dag["step-results"]["dependentTasks"]) == ["step-train-lr", "step-train-tree"]
    assert dag["step-train-tree"]["cachingOptions"] == {}  # cache:off
    lr = spec["deploymentSpec"]["executors"]["exec-step-train-lr"]["container"]
    assert lr["resources"]["accelerator"]["resourceCount"] == "1"  # gpu:1
    assert lr["image"] == "reg/ml:1"
    assert set(spec["root"]["outputDefinitions"]["artifacts"]) == {
        "train_lr_metrics", "train_tree_metrics"}


def test_order_only_edges_retries_and_env(write_nb, tmp_path):
    nb = write_nb([
        code("k = 3", "parameters"),
        code("a = 1", "step:first"),
        code("b = k * 2", "step:second", "after:first", "retries:2", "env:MODE=fast"),
    ])
    yaml_path = tmp_path / "p.yaml"
    compile_pipeline(parse_notebook(nb), yaml_path)
    components.load_component_from_file(str(yaml_path))
    spec = yaml.safe_load(yaml_path.read_text())
    second = tasks(spec)["step-second"]
    assert second["dependentTasks"] == ["step-first"]
    assert "artifacts" not in second.get("inputs", {})
    assert second["retryPolicy"]["maxRetryCount"] == 2
    env = spec["deploymentSpec"]["executors"]["exec-step-second"]["container"]["env"]
    assert env == [{"name": "MODE", "value": "fast"}]


def test_an_invalid_notebook_exits_2_with_the_inspect_errors(write_nb, tmp_path, capsys):
    nb = write_nb([code("y = undefined_name + 1", "step:broken")])
    assert compile_cli(str(nb)) == 2
    assert "undefined_name" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.yaml"))


def test_help_explains_with_an_example(capsys):
    with pytest.raises(SystemExit):
        compile_cli("--help")
    out = capsys.readouterr().out
    assert "Kubeflow" in out and "liminal-nb compile train.ipynb" in out


TRICKY = 'it\'s "quoted"\n""" + __import__("os").system("touch PWNED") + """\n{s}\\n'


def test_a_string_parameter_is_passed_as_an_inert_string(write_nb, tmp_path):
    nb = write_nb([
        code(f"s = {TRICKY!r}", "parameters"),
        code("n_chars = len(s)", "step:measure"),
        code("n_chars", "metrics"),
    ])
    pipeline = parse_notebook(nb)
    source, _ = generate_module(pipeline)
    compile(source, "generated", "exec")  # still valid Python
    yaml_path = tmp_path / "s.yaml"
    compile_pipeline(pipeline, yaml_path, python_path=tmp_path / "s_kfp.py",
                     install_runtime=False)
    spec = yaml.safe_load(yaml_path.read_text())
    assert spec["root"]["inputDefinitions"]["parameters"]["s"]["defaultValue"] == TRICKY
    value = TRICKY + "'''\x00\"; raise SystemExit(3) #"
    result = run_kfp_local(yaml_path, tmp_path / "root", {"s": value})
    assert result["measure_metrics"]["n_chars"] == len(value)
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()


def test_a_failing_step_fails_the_kfp_run_naming_the_cell(write_nb, tmp_path):
    nb = write_nb([
        code("x = 1", "step:ok"),
        code("y = x / 0", "step:boom"),
    ])
    yaml_path = tmp_path / "f.yaml"
    compile_pipeline(parse_notebook(nb), yaml_path, install_runtime=False)
    script = tmp_path / "run_kfp_local.py"
    script.write_text(RUN_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(yaml_path), str(tmp_path / "root"),
                           "{}", "here"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode != 0
    assert "step 'boom' failed in notebook cell 2" in done.stdout + done.stderr
    assert "ZeroDivisionError" in done.stdout + done.stderr


def test_every_step_has_an_html_artifact_with_its_printed_output(write_nb, tmp_path):
    nb = write_nb([
        code("rows = list(range(4))\nprint('fetched', len(rows), 'rows')", "step:fetch"),
        code("total = sum(rows)\nprint('<script>alert(1)</script> total', total)", "step:add"),
        code("total", "metrics"),
    ])
    yaml_path = tmp_path / "h.yaml"
    compile_pipeline(parse_notebook(nb), yaml_path, install_runtime=False)
    spec = yaml.safe_load(yaml_path.read_text())
    for component in spec["components"].values():
        html = component["outputDefinitions"]["artifacts"]["executed_html"]
        assert html["artifactType"]["schemaTitle"] == "system.HTML"

    run_kfp_local(yaml_path, tmp_path / "root", {})

    pages = {p.parent.name: p.read_text() for p in (tmp_path / "root").rglob("executed_html")}
    assert set(pages) == {"step-fetch", "step-add"}, sorted(pages)  # the KFP task names
    assert "fetched 4 rows" in pages["step-fetch"]
    assert "total 6" in pages["step-add"] and "&lt;script&gt;alert(1)" in pages["step-add"]
    assert all("<script" not in page for page in pages.values())
