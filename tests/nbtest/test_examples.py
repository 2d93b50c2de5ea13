"""CI runs every example notebook, straight and as a pipeline, with `liminal-nb test`.

This is the command a repository's CI job would run; the examples are tested the way we
tell users to test theirs. They run from a copy of the folder, so what an example writes
next to itself (python_api.ipynb runs the iris pipeline, whose records go beside it)
stays in this test's temporary folder.
"""

from __future__ import annotations

import json
import shutil

from liminal_jupyter.notebook.parse import parse_notebook
from tests.conftest import EXAMPLES
from tests.nbtest.helpers import junit_cases, liminal_test


def expected_cases() -> set[str]:
    names = set()
    for notebook in EXAMPLES.glob("*.ipynb"):
        sets = ["defaults", *parse_notebook(notebook).settings.get("test", {})]
        fan_out = any(step.foreach for step in parse_notebook(notebook).steps)
        for name in sets:  # a fan-out notebook runs as a pipeline only
            names |= {f"{notebook.name}::{name} as pipeline"}
            if not fan_out:
                names |= {f"{notebook.name}::{name}"}
    # A folder with a pipeline file is one case per set, as a pipeline only (its notebooks
    # read each other's values, so none runs alone).
    for pipeline_file in EXAMPLES.glob("*/liminal.yml"):
        sets = ["defaults", *parse_notebook(pipeline_file).settings.get("test", {})]
        names |= {f"{pipeline_file.name}::{name} as pipeline" for name in sets}
    return names


def sources(folder):
    """The example notebooks (not the run records a run leaves in .liminal/)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.glob("**/*.ipynb")
            if ".liminal" not in p.relative_to(folder).parts}


def test_every_example_passes_straight_and_as_a_pipeline(tmp_path):
    examples = tmp_path / "example_notebooks"
    shutil.copytree(EXAMPLES, examples, ignore=shutil.ignore_patterns(".liminal",
                                                                        ".ipynb_checkpoints"))
    before = sources(examples)
    done = liminal_test(examples, "--both", "--jobs", "2", "--timeout", "300",
                        "--output-dir", tmp_path / "out", "--junit", tmp_path / "examples.xml",
                        cwd=tmp_path, timeout=1500)

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    cases = junit_cases(tmp_path / "examples.xml")
    assert set(cases) == expected_cases()
    # four notebooks, three extra sets in the matrix one, one pipeline file
    assert len(cases) >= 2 * 4 + 2 * 3 + 1
    assert sources(examples) == before  # the notebooks themselves untouched


def test_examples_have_no_outputs_and_a_story():
    for notebook in EXAMPLES.glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), notebook
        assert cells[0]["cell_type"] == "markdown", notebook
        assert sum(c["cell_type"] == "markdown" for c in cells) >= 3, notebook
