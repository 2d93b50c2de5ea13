"""`liminal-nb inspect --json` is a documented, stable schema: hold the output to it.

The schemas ship in the package (liminal_jupyter/schema/) and are described in docs/ir.md.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jsonschema import Draft202012Validator

from liminal_jupyter.cli import EXIT_INVALID, EXIT_OK, main
from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.notebook.tags import PHASES
from liminal_jupyter.pipeline import PARAMETER_TYPES, SCHEMA_VERSION, Pipeline

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(
    [*(REPO / "example_notebooks").glob("*.ipynb"), *(REPO / "tests" / "notebooks").glob("*.ipynb"),
     *(REPO / "tests" / "notebooks" / "kale").glob("*.ipynb"),
     *(REPO / "example_notebooks").glob("*/liminal.yml")]
)
SCHEMA_FILES = ("pipeline.schema.json", "inspect-error.schema.json")


def load_schema(name: str) -> dict[str, Any]:
    """A schema as the installed package ships it (not by path in the source tree)."""
    schemas = importlib.resources.files("liminal_jupyter.schema")
    return json.loads(schemas.joinpath(name).read_text(encoding="utf-8"))


PIPELINE_SCHEMA = load_schema("pipeline.schema.json")
ERROR_SCHEMA = load_schema("inspect-error.schema.json")
PIPELINE = Draft202012Validator(PIPELINE_SCHEMA)
INSPECT_ERROR = Draft202012Validator(ERROR_SCHEMA)


def _no_constant(name: str) -> Any:
    raise ValueError(f"not JSON: the output contains {name}, which JSON.parse rejects")


def inspect_json(path: Path | str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    """Run `liminal-nb inspect PATH --json`; its exit code and its output, read as strict JSON."""
    code = main(["inspect", str(path), "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out, parse_constant=_no_constant)


def problems(validator: Draft202012Validator, data: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    ]


# -- the schemas themselves ------------------------------------------------------------------


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 2, NOTEBOOKS


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_is_a_valid_draft_2020_12_schema(name):
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_both_schemas_describe_the_same_diagnostic_record():
    assert PIPELINE_SCHEMA["$defs"]["diagnostic"] == ERROR_SCHEMA["$defs"]["diagnostic"]


def test_schema_enums_match_the_code():
    defs = PIPELINE_SCHEMA["$defs"]
    assert PIPELINE_SCHEMA["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert tuple(defs["parameter"]["properties"]["type"]["enum"]) == PARAMETER_TYPES
    assert defs["step"]["properties"]["phase"]["enum"] == [*PHASES, None]


# -- the output of every notebook we have ----------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_inspect_json_matches_the_pipeline_schema(path, capsys):
    code, data = inspect_json(path, capsys)
    assert problems(PIPELINE, data) == []
    assert code == (EXIT_OK if data["valid"] else EXIT_INVALID)
    assert not INSPECT_ERROR.is_valid(data)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_pipeline_json_round_trips(path):
    pipeline = parse_notebook(path)
    data = pipeline.to_json()
    assert Pipeline.from_json(data).to_json() == data
    # And through JSON text, as a step running in a pod would read it.
    text = json.loads(json.dumps(data))
    assert Pipeline.from_json(text).to_json() == text


# -- a file that is not a notebook -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "code", "line"),
    [(None, "not-found", None), ('{"nbformat": 4, "cells": [', "invalid-json", 1)],
    ids=["missing", "invalid-json"],
)
def test_not_a_notebook_gives_the_inspect_error_shape(tmp_path, capsys, content, code, line):
    path = tmp_path / "broken.ipynb"
    if content is not None:
        path.write_text(content)
    exit_code, data = inspect_json(path, capsys)
    assert exit_code == EXIT_INVALID
    assert problems(INSPECT_ERROR, data) == []
    assert not PIPELINE.is_valid(data)
    [error] = data["errors"]
    assert (error["code"], error["notebook"], error["line"]) == (code, str(path), line)


# -- a notebook with errors ------------------------------------------------------------------


def test_an_undefined_name_is_an_error_with_its_cell_and_line(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    heading = nbformat.v4.new_markdown_cell("# Broken")
    cell = nbformat.v4.new_code_cell("total = 1\nprint(undefined_thing)")
    cell.metadata["tags"] = ["step:a"]
    nb.cells = [heading, cell]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)

    exit_code, data = inspect_json(path, capsys)

    assert exit_code == EXIT_INVALID
    assert problems(PIPELINE, data) == []
    assert data["valid"] is False
    assert data["order"] == []
    found = [e for e in data["errors"] if e["code"] == "undefined-name"]
    assert len(found) == 1, data["errors"]
    error = found[0]
    assert error["severity"] == "error"
    assert error["step"] == "a"
    assert error["cell_index"] == 1  # 0-based, counting the markdown cell
    assert error["cell_id"] == cell.id
    assert error["line"] == 2  # 1-based, within the cell
    assert "undefined_thing" in error["message"]


# -- the schema is not vacuous ---------------------------------------------------------------


def _set(path: str, value: Any):
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = data
        for key in parents:
            target = target[int(key) if key.isdigit() else key]
        target[int(last) if last.isdigit() else last] = value

    return change


BREAKAGES = {
    "unknown top-level field": _set("extra", 1),
    "missing field": lambda d: d.pop("kernel"),
    "other schema_version": _set("schema_version", 1),
    "prelude_reads not names": _set("prelude_reads", [1]),
    "unknown parameter type": _set("parameters/0/type", "double"),
    "unknown phase": _set("steps/0/phase", "cook"),
    "unknown input kind": _set("steps/1/inputs/0/kind", "socket"),
    "file input without producer": lambda d: d["steps"][1]["inputs"][0].update(
        kind="file", name="report.csv", producer=None),
    "file edge carrying no file": lambda d: d["edges"][0].update(kind="file", variables=[],
                                                                   files=[]),
    "data input without producer": _set("steps/1/inputs/0/producer", None),
    "bad step name": _set("steps/0/name", "Fetch Data"),
    "timeout as text": _set("steps/0/options/timeout", "30m"),
    "unknown option": _set("steps/0/options/priority", 1),
    "data edge carrying nothing": _set("edges/0/variables", []),
    "unknown edge kind": _set("edges/0/kind", "control"),
    "valid with an error": _set("errors", [{
        "severity": "error", "code": "cycle", "message": "x", "step": None,
        "notebook": "n.ipynb", "cell_index": None, "cell_id": None, "line": None,
    }]),
    "warning in errors": lambda d: d.update(valid=False, order=[], errors=[{
        "severity": "warning", "code": "cycle", "message": "x", "step": None,
        "notebook": "n.ipynb", "cell_index": None, "cell_id": None, "line": None,
    }]),
    "line 0": _set("parameters/0/line", 0),
    "missing step files": lambda d: d["steps"][0].pop("files"),
    "workspace file outside the folder": _set("steps/0/files", ["../secret.txt"]),
    "workspace parent folder": _set("steps/0/files", ["data/../.."]),
    "absolute workspace file": _set("steps/0/files", ["/etc/passwd"]),
    "workspace file listed twice": _set("steps/0/files", ["a.csv", "a.csv"]),
    "missing foreach": lambda d: d["steps"][0].pop("foreach"),
    "foreach not a name": _set("steps/0/foreach", "max depth"),
    "foreach cap of 0": _set("steps/0/options/foreach_max", 0),
    "step without its notebook": lambda d: d["steps"][0].pop("notebook"),
    "no notebooks list": lambda d: d.pop("notebooks"),
    "notebook part outside the folder": _set("notebooks", [{
        "path": "../other.ipynb", "parameter_cells": [], "prelude": [], "prelude_reads": []}]),
    "version 2 (one prelude for every step)": _set("schema_version", 2),
}


@pytest.fixture(scope="module")
def iris_json() -> dict[str, Any]:
    return parse_notebook(REPO / "example_notebooks" / "iris_classification.ipynb").to_json()


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_the_schema_rejects_a_changed_shape(iris_json, breakage):
    assert PIPELINE.is_valid(iris_json)
    data = copy.deepcopy(iris_json)
    BREAKAGES[breakage](data)
    assert not PIPELINE.is_valid(data)


def test_settings_is_an_open_object(iris_json):
    data = copy.deepcopy(iris_json)
    data["settings"] = {"experiment": "iris", "some_future_setting": {"a": 1}}
    assert problems(PIPELINE, data) == []


# -- known bugs ------------------------------------------------------------------------------


def test_an_infinite_parameter_default_is_still_json(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("big = 1e999")
    params.metadata["tags"] = ["parameters"]
    step = nbformat.v4.new_code_cell("print(big)")
    step.metadata["tags"] = ["step:a"]
    nb.cells = [params, step]
    path = tmp_path / "inf.ipynb"
    nbformat.write(nb, path)
    _, data = inspect_json(path, capsys)
    assert problems(PIPELINE, data) == []
    assert [e["code"] for e in data["errors"]] == ["parameter-not-json"]


# -- versions --------------------------------------------------------------------------------


def test_a_version_2_document_reads_as_one_notebook(iris_json):
    """Version 3 added each step's notebook; a version-2 document (a compiled pipeline of
    an older release) has none, so every step runs the one prelude it carries."""
    old = copy.deepcopy(iris_json)
    old["schema_version"] = 2
    old.pop("notebooks")
    for step in old["steps"]:
        step.pop("notebook")
    pipeline = Pipeline.from_json(old)
    assert pipeline.notebooks == []
    assert all(pipeline.part(s).prelude == pipeline.prelude for s in pipeline.steps)
    assert pipeline.to_json() == iris_json
    with pytest.raises(ValueError, match="schema_version 1"):
        Pipeline.from_json({**old, "schema_version": 1})
