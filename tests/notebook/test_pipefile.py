"""A pipeline file (liminal.yml): several notebooks parsed into one pipeline.

The steps of every notebook form one DAG; data edges across notebooks are inferred as
within one; each step keeps its own notebook's prelude, parameters cells and folder;
names are qualified only where notebooks clash; errors name the file's line or the
notebook's cell.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from liminal_jupyter.diagnostics import NotebookError
from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.pipeline import Pipeline
from liminal_jupyter.step.render import render_step
from tests.conftest import EXAMPLES, code, md, notebook_json

WINE = EXAMPLES / "wine_pipeline"


def write(folder: Path, name: str, cells: list[dict]) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_json(cells)))
    return path


def pipeline_file(folder: Path, text: str) -> Path:
    path = folder / "liminal.yml"
    path.write_text(text)
    return path


def errors(pipeline: Pipeline) -> list[tuple[str, str]]:
    return [(d.code, d.render()) for d in pipeline.errors]


def raised(path: Path) -> list[str]:
    with pytest.raises(NotebookError) as info:
        parse_notebook(path)
    return [d.render() for d in info.value.diagnostics]


# -- the example ---------------------------------------------------------------------------


def test_the_example_is_one_dag_across_its_three_notebooks():
    pipeline = parse_notebook(WINE / "liminal.yml")

    assert pipeline.valid, errors(pipeline)
    assert pipeline.name == "wine-pipeline"
    assert [(s.name, s.notebook) for s in pipeline.steps] == [
        ("load", "load.ipynb"),  # no tags: one step, named after the notebook
        ("clean", "features.ipynb"), ("split", "features.ipynb"),
        ("train", "train.ipynb"), ("evaluate", "train.ipynb")]
    edges = {(e.source, e.target): e.variables for e in pipeline.edges}
    assert edges[("load", "clean")] == ["wines"]  # a name features.ipynb reads, load defines
    assert sorted(edges[("split", "train")]) == ["X_train", "y_train"]
    assert pipeline.order() == ["load", "clean", "split", "train", "evaluate"]
    # The file's parameters win over the notebooks' defaults and reach every notebook.
    assert {p.name: p.default for p in pipeline.parameters} == {
        "test_size": 0.25, "seed": 1, "C": 0.5}
    assert [p.path for p in pipeline.notebooks] == ["load.ipynb", "features.ipynb",
                                                    "train.ipynb"]
    assert pipeline.prelude == [] and pipeline.parameter_cells == []


def test_each_step_renders_its_own_notebooks_prelude_and_parameters(tmp_path):
    pipeline = parse_notebook(WINE / "liminal.yml")

    def sources(step: str) -> tuple[str, str]:
        inputs = {i.name: {"name": i.name, "marshaller": "pickle", "path": "x", "sha256": "0",
                           "size": 0} for i in pipeline.step(step).data_inputs}
        nb = render_step(pipeline, step, inputs, str(tmp_path))
        roles = {}
        for cell in nb.cells:
            role = cell.metadata.get("liminal", {}).get("role")
            roles[role] = roles.get(role, "") + cell.source
        return roles.get("parameters", ""), roles.get("prelude", "")

    params, prelude = sources("split")
    assert "train_test_split" in prelude and "LogisticRegression" not in prelude
    # its own defaults first, then the file's values (and the parameters it lacks) after
    assert params.index("test_size = 0.3") < params.index("test_size = 0.25")
    assert "C = 0.5" in params
    params, prelude = sources("train")
    assert "LogisticRegression" in prelude and "train_test_split" not in prelude
    assert params.index("C = 1.0") < params.index("C = 0.5")
    assert sources("load")[1] == ""  # load.ipynb has no imports cell


def test_the_pipeline_json_round_trips_with_each_steps_notebook():
    pipeline = parse_notebook(WINE / "liminal.yml")
    data = json.loads(json.dumps(pipeline.to_json()))
    again = Pipeline.from_json(data)
    assert again.to_json() == data
    assert again.part("train").prelude == pipeline.part("train").prelude


def test_a_notebook_is_read_by_from_file_and_so_is_a_pipeline_file():
    from liminal_jupyter.api import Pipeline as ApiPipeline

    assert ApiPipeline.from_file(WINE / "liminal.yml").ir.name == "wine-pipeline"
    assert ApiPipeline.from_file(EXAMPLES / "iris_classification.ipynb").ir.notebooks == []


# -- names, edges and explicit inputs --------------------------------------------------------


def test_clashing_step_names_are_qualified_by_notebook_and_after_stays_local(tmp_path):
    write(tmp_path, "a.ipynb", [code("x = 1", "step:clean"), code("y = x + 1", "step:only_a")])
    write(tmp_path, "b.ipynb", [code("z = y * 2", "step:clean"),
                                code("print(z)", "step:report", "after:clean")])
    pipeline = parse_notebook(pipeline_file(tmp_path, "notebooks: [a.ipynb, b.ipynb]\n"))

    assert pipeline.valid, errors(pipeline)
    assert [s.name for s in pipeline.steps] == ["a.clean", "only_a", "b.clean", "report"]
    assert pipeline.step("b.clean").producers == ["only_a"]
    assert pipeline.step("report").after == ["b.clean"]  # its own notebook's clean


def test_explicit_inputs_override_the_inferred_producer(tmp_path):
    write(tmp_path, "a.ipynb", [code("data = [1]", "step:first")])
    write(tmp_path, "b.ipynb", [code("data = [2]", "step:second")])
    write(tmp_path, "c.ipynb", [code("total = sum(data)", "step:use")])
    path = pipeline_file(tmp_path, "notebooks: [a.ipynb, b.ipynb, c.ipynb]\n")
    assert parse_notebook(path).step("use").producers == ["second"]  # the last definer

    pipeline_file(tmp_path, "notebooks: [a.ipynb, b.ipynb, c.ipynb]\n"
                            "inputs:\n  use:\n    data: first\n")
    pipeline = parse_notebook(path)
    assert pipeline.valid, errors(pipeline)
    assert pipeline.step("use").producers == ["first"]
    assert pipeline.step("first").outputs == ["data"]


def test_a_notebook_in_a_sub_folder_has_its_files_and_folder_there(tmp_path):
    write(tmp_path, "a.ipynb", [code("n = 3", "step:make")])
    write(tmp_path, "sub/b.ipynb", [code("text = open('note.txt').read() * n", "step:read")])
    (tmp_path / "sub" / "note.txt").write_text("hi")
    pipeline = parse_notebook(pipeline_file(tmp_path, "notebooks:\n  - a.ipynb\n"
                                                      "  - path: sub/b.ipynb\n"))
    assert pipeline.valid, errors(pipeline)
    read = pipeline.step("read")
    assert (read.notebook, pipeline.folder_of(read), read.files) == (
        "sub/b.ipynb", "sub", ["sub/note.txt"])
    assert pipeline.notebook_of(read) == str(tmp_path / "sub" / "b.ipynb")


def test_a_file_one_notebook_writes_and_a_later_one_reads_is_a_file_edge(tmp_path, capsys):
    """prep/load.ipynb writes raw.csv in its folder, use.ipynb reads it as prep/raw.csv:
    the reader waits for the writer (a file edge, paths compared from the pipeline file's
    folder), so the local runner, which would otherwise start both at once, hands it over."""
    from liminal_jupyter.cli import main

    write(tmp_path, "prep/load.ipynb", [
        code("import pandas as pd", "imports"),
        code("pd.DataFrame({'a': [1, 2, 3]}).to_csv('raw.csv', index=False)", "step:load")])
    write(tmp_path, "other.ipynb", [code("unrelated = 1", "step:other")])
    write(tmp_path, "use.ipynb", [
        code("import pandas as pd", "imports"),
        code("total = int(pd.read_csv('prep/raw.csv').a.sum())", "step:use"),
        code("total", "metrics")])
    path = pipeline_file(tmp_path, "notebooks: [prep/load.ipynb, other.ipynb, use.ipynb]\n")
    pipeline = parse_notebook(path)
    assert pipeline.valid, errors(pipeline)
    use = pipeline.step("use")
    assert [(i.name, i.kind, i.producer) for i in use.file_inputs] == [
        ("prep/raw.csv", "file", "load")]
    assert "prep/raw.csv" not in use.files
    assert pipeline.step("other").file_inputs == [] and not pipeline.step("other").upstream
    assert main(["inspect", str(path)]) == 0
    assert "prep/raw.csv <- file written by load" in capsys.readouterr().out

    assert main(["run", str(path), "--no-tracking", "--json"]) == 0
    finished = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert finished["status"] == "succeeded", finished


# -- errors ----------------------------------------------------------------------------------


def test_a_missing_notebook_names_the_files_line(tmp_path):
    write(tmp_path, "a.ipynb", [code("x = 1")])
    path = pipeline_file(tmp_path, "name: p\nnotebooks:\n  - a.ipynb\n  - gone.ipynb\n")
    assert raised(path) == [f"error: {path}, line 4: notebook 'gone.ipynb' does not exist "
                            "beside the pipeline file."]


def test_a_notebook_outside_the_folder_is_refused(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    write(tmp_path, "outside.ipynb", [code("x = 1")])
    path = pipeline_file(inner, "notebooks:\n  - ../outside.ipynb\n")
    [message] = raised(path)
    assert message.startswith(f"error: {path}, line 2: notebook '../outside.ipynb' is outside")
    # nor through a link that leads out
    (inner / "link.ipynb").symlink_to(tmp_path / "outside.ipynb")
    pipeline_file(inner, "notebooks: [link.ipynb]\n")
    [message] = raised(path)
    assert "line 1: notebook 'link.ipynb' is outside the pipeline file's folder" in message


def test_an_unknown_key_names_its_line_and_the_closest_key(tmp_path):
    write(tmp_path, "a.ipynb", [code("x = 1")])
    path = pipeline_file(tmp_path, "notebooks: [a.ipynb]\nparameter:\n  n: 1\n")
    assert raised(path) == [
        f"error: {path}, line 2: 'parameter' is not a key of a pipeline file; the keys are "
        "name, description, notebooks, parameters, inputs, tracking and the pipeline "
        "settings (image, schedule, ...). Did you mean 'parameters'?"]


def test_bad_yaml_names_its_line(tmp_path):
    path = pipeline_file(tmp_path, "notebooks:\n  - a.ipynb\n bad: [\n")
    [message] = raised(path)
    assert message.startswith(f"error: {path}, line 3: this is not valid YAML")


def test_an_unknown_step_in_inputs_names_its_line(tmp_path):
    write(tmp_path, "a.ipynb", [code("data = 1", "step:first")])
    write(tmp_path, "b.ipynb", [code("print(data)", "step:use")])
    path = pipeline_file(tmp_path, "notebooks: [a.ipynb, b.ipynb]\ninputs:\n  use:\n"
                                   "    data: frist\n  nope:\n    data: first\n")
    found = errors(parse_notebook(path))
    assert found == [
        ("unknown-step", f"error: {path}, line 4: inputs: use.data comes from 'frist', which "
                         "names no step; the steps are first, use."),
        ("unknown-step", f"error: {path}, line 5: inputs: 'nope' names no step; the steps "
                         "are first, use.")]


def test_a_cycle_across_notebooks_names_the_notebook_and_cell(tmp_path):
    a = write(tmp_path, "a.ipynb", [md("# A"), code("x = 1", "step:make", "after:use")])
    write(tmp_path, "b.ipynb", [code("print(x)", "step:use")])
    path = pipeline_file(tmp_path, "notebooks: [a.ipynb, b.ipynb]\n")
    assert errors(parse_notebook(path)) == [(
        "cycle", f"error: {a}, cell 2 (id c1) [step 'make']: the steps depend on each other "
                 "in a cycle: make -> use -> make. Remove an after: tag, or move the code that "
                 "produces a variable before the code that reads it.")]


def test_an_undefined_name_names_the_notebook_that_reads_it(tmp_path):
    write(tmp_path, "a.ipynb", [code("x = 1", "step:make")])
    b = write(tmp_path, "b.ipynb", [code("print(x)\nprint(y)", "step:use")])
    [(code_, message)] = errors(parse_notebook(pipeline_file(
        tmp_path, "notebooks: [a.ipynb, b.ipynb]\n")))
    assert code_ == "undefined-name"
    assert message.startswith(f"error: {b}, cell 1 of 1 (id c0), line 2 [step 'use']: "
                              "name 'y' is used here")


def test_a_step_never_sees_another_notebooks_prelude(tmp_path):
    """An import in a.ipynb's imports cell is not run by b.ipynb's steps: using it there
    is an undefined name, at analysis, rather than a step that works only by accident."""
    write(tmp_path, "a.ipynb", [code("import math", "imports"), code("x = math.pi", "step:a")])
    b = write(tmp_path, "b.ipynb", [code("y = math.floor(x)", "step:b")])
    [(code_, message)] = errors(parse_notebook(pipeline_file(
        tmp_path, "notebooks: [a.ipynb, b.ipynb]\n")))
    assert code_ == "undefined-name" and f"{b}, cell 1" in message and "'math'" in message


def test_the_cli_inspects_a_pipeline_file(tmp_path, capsys):
    from liminal_jupyter.cli import main

    folder = tmp_path / "wine"
    shutil.copytree(WINE, folder)
    assert main(["inspect", str(folder / "liminal.yml")]) == 0
    out = capsys.readouterr().out
    assert "Notebooks (each step runs its own notebook's imports and functions)" in out
    assert "  features.ipynb: steps clean, split; prelude cells 2" in out


def test_notebook_ci_takes_a_folder_with_a_pipeline_file_as_one_pipeline_case(tmp_path):
    from liminal_jupyter.nbtest.cases import build_cases, find_notebooks

    shutil.copytree(WINE, tmp_path / "wine")
    alone = write(tmp_path, "alone.ipynb", [code("x = 1")])
    found = find_notebooks([str(tmp_path)])
    assert sorted(found) == sorted([alone, tmp_path / "wine" / "liminal.yml"])
    cases = build_cases(found, None, ["notebook", "pipeline"], tmp_path / "out", 60)
    assert sorted((c.notebook.name, c.mode) for c in cases) == [
        ("alone.ipynb", "notebook"), ("alone.ipynb", "pipeline"), ("liminal.yml", "pipeline")]


def test_compile_takes_a_pipeline_file(tmp_path):
    from liminal_jupyter.cli import main

    folder = tmp_path / "wine"
    shutil.copytree(WINE, folder)
    assert main(["compile", str(folder / "liminal.yml"), "-o", str(tmp_path / "p.yaml")]) == 0
    text = (tmp_path / "p.yaml").read_text()
    assert "wine-pipeline" in text and "evaluate" in text
