"""`liminal-nb` as a user meets it: help that explains, clear errors, exit codes."""

import json
import subprocess
import sys

import pytest
from conftest import EXAMPLES, code

from liminal_jupyter.cli import main
from liminal_jupyter.pipeline import SCHEMA_VERSION

IRIS = EXAMPLES / "iris_classification.ipynb"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "liminal_jupyter.cli", *args],
                          capture_output=True, text=True, timeout=60)


def test_top_level_help_explains_with_an_example():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "step:NAME" in result.stdout
    assert "liminal-nb inspect example_notebooks/iris_classification.ipynb" in result.stdout


def test_inspect_help_explains_with_an_example(capsys):
    with pytest.raises(SystemExit) as info:
        main(["inspect", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out and "--graph" in out and "examples:" in out
    assert "Exit status" in out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "inspect" in capsys.readouterr().out


def test_inspect_prints_parameters_steps_inputs_and_outputs(capsys):
    assert main(["inspect", str(IRIS)]) == 0
    out = capsys.readouterr().out
    assert "Pipeline iris-classification" in out
    assert "test_size     float  = 0.25  # fraction of rows held out" in out
    assert "2. prepare  phase prepare" in out
    assert "inputs:  raw <- fetch, test_size <- parameter" in out
    assert "outputs: X_test, X_train, y_test, y_train" in out
    assert "metrics: accuracy, f1" in out
    assert "model:   clf" in out
    assert "options: cpu=1, memory=1Gi" in out


def test_inspect_json_is_the_ir_with_producers(capsys):
    assert main(["inspect", str(IRIS), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is True and data["schema_version"] == SCHEMA_VERSION
    assert data["order"] == ["fetch", "prepare", "train", "evaluate", "validate"]
    evaluate = next(s for s in data["steps"] if s["name"] == "evaluate")
    assert {i["name"]: i["producer"] for i in evaluate["inputs"]} == {
        "clf": "train", "X_test": "prepare", "y_test": "prepare"}


def test_inspect_graph_is_mermaid_with_labelled_data_edges(capsys):
    assert main(["inspect", str(IRIS), "--graph"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart TD")
    assert "subgraph phase_train[train]" in out
    assert 's_train -->|"clf"| s_evaluate' in out


def test_order_edges_are_dotted_in_the_graph(write_nb, capsys):
    path = write_nb([code("a = 1", "step:one"), code("b = 2", "step:two", "after:one")])
    assert main(["inspect", str(path), "--graph"]) == 0
    assert "s_one -.-> s_two" in capsys.readouterr().out


def test_an_invalid_notebook_exits_2_with_every_error(write_nb):
    path = write_nb([code("print(nope)", "step:a"), code("x = (", "step:b")])
    result = run_cli("inspect", str(path))
    assert result.returncode == 2
    assert "undefined-name" not in result.stdout  # codes are for machines, text for people
    assert "name 'nope' is used here" in result.stdout
    assert "syntax error" in result.stdout
    assert "2 errors" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("content", [b"", b"{not json", bytes(range(256)), b"[]"])
def test_bad_files_give_one_clear_line_and_no_traceback(tmp_path, content):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    result = run_cli("inspect", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {path}")
    assert "Traceback" not in result.stderr


def test_missing_file_and_directory_in_json_mode(tmp_path):
    for target in (tmp_path / "missing.ipynb", tmp_path):
        result = run_cli("inspect", str(target), "--json")
        assert result.returncode == 2
        data = json.loads(result.stdout)
        assert data["valid"] is False and data["errors"][0]["notebook"] == str(target)


def test_kfp_local_runs_cannot_be_resumed(capsys):
    assert main(["run", str(IRIS), "--backend", "kfp-local", "--resume", "x"]) == 2
    assert "--resume is for local runs" in capsys.readouterr().err
