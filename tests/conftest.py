"""Shared test helpers: small notebooks built in the test, as a user would write them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.pipeline import Pipeline

# pytester runs pytest inside tests (tests/nbtest: the notebook plugin). The session's
# heavy fixtures are registered here, once: a fixture imported into several test modules
# is a separate fixture in each, and its "session" scope would start one per module.
pytest_plugins = ["pytester", "tests.mlflow_servers", "tests.engines.airflow.airflow_sessions",
                  "tests.engines.package_index", "tests.engines.airflow.airflow_deployment"]

REPO = Path(__file__).resolve().parent.parent
TEST_NOTEBOOKS = REPO / "tests" / "notebooks"
EXAMPLES = REPO / "example_notebooks"


def code(source: str, *tags: str) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)},
            "outputs": [], "execution_count": None}


def md(source: str) -> dict:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


def notebook_json(cells: list[dict], metadata: dict | None = None) -> dict:
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}}
    meta.update(metadata or {})
    numbered = [{**cell, "id": f"c{i}"} for i, cell in enumerate(cells)]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": numbered}


@pytest.fixture
def write_nb(tmp_path):
    """write_nb(cells, metadata=None, name='nb.ipynb') -> Path of a notebook on disk."""

    def write(cells: list[dict], metadata: dict | None = None, name: str = "nb.ipynb") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(notebook_json(cells, metadata)))
        return path

    return write


@pytest.fixture
def parse(write_nb):
    """parse(cells, metadata=None) -> Pipeline built from those cells."""

    def build(cells: list[dict], metadata: dict | None = None, name: str = "nb.ipynb") -> Pipeline:
        return parse_notebook(write_nb(cells, metadata, name))

    return build


def inputs_of(pipeline: Pipeline, step: str) -> dict[str, str | None]:
    """{name: producer step, or 'parameter' / 'import:STEP'} for one step's inputs."""
    found = {}
    for inp in pipeline.step(step).inputs:
        if inp.kind == "data":
            found[inp.name] = inp.producer
        elif inp.kind == "parameter":
            found[inp.name] = "parameter"
        else:
            found[inp.name] = f"import:{inp.producer}"
    return found


def codes(pipeline: Pipeline, severity: str = "error") -> list[str]:
    return [d.code for d in pipeline.diagnostics if d.severity == severity]


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks into node ids
def pytest_collection_modifyitems(config, items):
    """Groups the tests that share an expensive fixture, for `pytest -n N --dist loadgroup`
    (pytest-xdist; `make test`): each group runs in one worker, so a module-scoped
    JupyterLab or a session's MLflow server starts once, not once per worker that happens
    to get one of its tests. Tests sharing nothing are spread one by one.

    Two tests are in one group when they use the same module-scoped fixture of one module,
    or the same session-scoped fixture of ours (tests/...); groups that share a test merge.
    """
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    shared: dict[str, list[str]] = {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        keys = []
        for name, definitions in info.name2fixturedefs.items():
            definition = definitions[-1]
            if definition.scope == "module":
                keys.append(f"{item.module.__name__}::{name}")
            elif definition.scope == "session" and getattr(
                definition.func, "__module__", ""
            ).startswith("tests."):
                keys.append(f"session::{name}")
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
        if keys:
            shared[item.nodeid] = keys
    for item in items:
        keys = shared.get(item.nodeid)
        if keys:
            item.add_marker(pytest.mark.xdist_group(find(keys[0])))
