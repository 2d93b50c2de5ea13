"""Bad input never shows a traceback of ours: each gets one clear error naming the file."""

import json

import pytest

from liminal_jupyter.diagnostics import NotebookError
from liminal_jupyter.notebook.parse import parse_notebook


def error_of(path):
    with pytest.raises(NotebookError) as info:
        parse_notebook(path)
    (diagnostic,) = info.value.diagnostics
    assert str(path) in diagnostic.render()
    return diagnostic


def test_missing_file(tmp_path):
    assert error_of(tmp_path / "nope.ipynb").code == "not-found"


def test_directory(tmp_path):
    assert error_of(tmp_path).code == "is-directory"


def test_empty_file(tmp_path):
    (tmp_path / "e.ipynb").write_text("")
    assert error_of(tmp_path / "e.ipynb").code == "empty-file"


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text('{\n  "cells": [\n    {"cell_type": "code",,}\n')
    diagnostic = error_of(path)
    assert diagnostic.code == "invalid-json"
    assert diagnostic.location.line == 3


def test_binary_garbage(tmp_path):
    path = tmp_path / "g.ipynb"
    path.write_bytes(bytes(range(256)) * 4)
    assert error_of(path).code == "not-text"


def test_json_that_is_not_a_notebook(tmp_path):
    path = tmp_path / "list.ipynb"
    path.write_text("[1, 2, 3]")
    assert error_of(path).code == "not-a-notebook"


def test_future_format_is_refused(tmp_path):
    path = tmp_path / "v5.ipynb"
    path.write_text(json.dumps({"nbformat": 5, "nbformat_minor": 0, "cells": [], "metadata": {}}))
    assert error_of(path).code == "unsupported-format"


def test_non_python_kernel_is_refused(tmp_path):
    path = tmp_path / "r.ipynb"
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "cells": [],
        "metadata": {"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}}}))
    diagnostic = error_of(path)
    assert diagnostic.code == "not-python" and "'r'" in diagnostic.message


def test_an_empty_notebook_has_nothing_to_run(tmp_path):
    path = tmp_path / "empty.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [],
                                "metadata": {}}))
    assert error_of(path).code == "no-code"


def test_a_version_3_notebook_is_upgraded(tmp_path):
    path = tmp_path / "v3.ipynb"
    path.write_text(json.dumps({
        "nbformat": 3, "nbformat_minor": 0,
        "metadata": {"name": "old"},
        "worksheets": [{"cells": [
            {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": [],
             "metadata": {"tags": ["step:a"]}},
            {"cell_type": "code", "input": "print(x)", "language": "python", "outputs": [],
             "metadata": {"tags": ["step:b"]}},
        ], "metadata": {}}],
    }))
    pipeline = parse_notebook(path)
    assert [s.name for s in pipeline.steps] == ["a", "b"]
    assert pipeline.step("b").inputs[0].producer == "a"


def test_source_as_a_list_of_lines_and_cells_without_ids(tmp_path):
    path = tmp_path / "lines.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": [
        {"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {}, "outputs": [],
         "execution_count": None}]}))
    pipeline = parse_notebook(path)
    assert pipeline.steps[0].cells[0].source == "x = 1\ny = 2"
    assert pipeline.steps[0].cells[0].id is None
