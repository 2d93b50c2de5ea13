"""What fuzzing the parser found (issue 20), one regression test per finding.

Each was a traceback of ours, or an IR that changed between two reads of one file.
"""

from __future__ import annotations

import json

import pytest
from conftest import code, notebook_json
from notebook_strategies import check_notebook

from liminal_jupyter.diagnostics import NotebookError
from liminal_jupyter.notebook.parse import parse_notebook


def write(tmp_path, data) -> object:
    path = tmp_path / "found.ipynb"
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


def test_finding_kernelspec_that_is_a_string_is_ignored_as_jupyter_does(tmp_path):
    nb = notebook_json([code("x = 1")])
    nb["metadata"] = {"kernelspec": "python3", "language_info": ["python"]}
    pipeline = parse_notebook(write(tmp_path, nb))
    assert pipeline.valid and pipeline.kernel == "python3"


def test_finding_kernelspec_fields_of_the_wrong_type_are_ignored(tmp_path):
    nb = notebook_json([code("x = 1")])
    nb["metadata"]["kernelspec"] = {"name": 3, "language": ["python"]}
    assert parse_notebook(write(tmp_path, nb)).kernel == "python3"


def test_finding_cell_metadata_that_is_not_an_object_is_ignored(tmp_path):
    nb = notebook_json([code("x = 1", "step:a"), code("y = x")])
    nb["cells"][1]["metadata"] = "not an object"
    pipeline = parse_notebook(write(tmp_path, nb))
    assert [s.name for s in pipeline.steps] == ["a"]


def test_finding_json_nested_too_deeply_is_a_clear_error_not_a_recursion_error(tmp_path):
    with pytest.raises(NotebookError) as info:
        parse_notebook(write(tmp_path, b"[" * 100_000))
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "invalid-json" and "nested too deeply" in diagnostic.message


def test_finding_an_indentation_error_in_a_cell_with_shell_lines_is_a_syntax_error(tmp_path):
    """ast.parse fails, the cell has IPython syntax, and IPython's own tokenizer then raised
    IndentationError out of its transformer."""
    pipeline = parse_notebook(write(tmp_path, notebook_json([
        code("!ls\nif x:\n\t x = 1\n  y = 2", "step:a")])))
    (error,) = pipeline.errors
    assert error.code == "syntax-error" and "indent" in error.message
    assert error.location.cell_index == 0


def test_finding_an_old_format_notebook_gives_the_same_ir_on_every_read(tmp_path):
    """nbformat's upgrade gave every cell a new random id, so two reads differed."""
    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
           "worksheets": [{"metadata": {}, "cells": [
               {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": [],
                "metadata": {"tags": ["step:a"]}},
               {"cell_type": "code", "input": "y = x", "language": "python", "outputs": [],
                "metadata": {"tags": ["step:b"]}}]}]}
    path = write(tmp_path, old)
    first, second = parse_notebook(path), parse_notebook(path)
    assert first.to_json() == second.to_json()
    assert [s.name for s in first.steps] == ["a", "b"]
    check_notebook(path.read_bytes(), path)


@pytest.mark.parametrize("source", [
    "x = " + " + ".join(["y"] * 3000),  # a long operator chain: a deep tree
    "x = " + "lambda: " * 3000 + "1",
    "x = y" + ".a" * 3000,
    "x = " + "not " * 100_000 + "y",  # deeper than CPython's parser goes: MemoryError
])
def test_finding_code_nested_too_deeply_is_an_error_of_its_cell_not_a_recursion_error(
        tmp_path, source):
    pipeline = parse_notebook(write(tmp_path, notebook_json([
        code("y = 1", "step:a"), code(source, "step:b")])))
    (error,) = pipeline.errors
    assert error.code == "syntax-error" and "nested" in error.message
    assert error.location.cell_index == 1


def test_finding_a_deep_metric_expression_is_an_error_not_a_recursion_error(tmp_path):
    """ast.unparse of the metric recursed past Python's limit, at about 200 levels."""
    pipeline = parse_notebook(write(tmp_path, notebook_json([
        code("y = 1", "step:a"), code("{'k': " * 190 + "y" + "}" * 190, "metrics")])))
    (error,) = pipeline.errors
    assert error.code == "syntax-error" and error.location.cell_index == 1


def test_finding_a_cell_ipython_cannot_transform_is_an_error_of_its_cell(tmp_path):
    """IPython's transformer gives up (RuntimeError) after 500 rounds on 500+ magic lines."""
    pipeline = parse_notebook(write(tmp_path, notebook_json([
        code("%env K=y\n" * 600 + "x = = 1", "step:a")])))
    assert [e.code for e in pipeline.errors] == ["syntax-error"]
