"""A notebook in a read-only folder (a shared mount, a checked-out dataset), and outputs
asked for where nothing can be written: one line saying which path and why, exit 1, never
a traceback (DESIGN.md, "Contracts"). Before, each of these printed Python's traceback.

The folder is a real read-only bind mount (`mount --bind` then `remount,ro`: the tests run
as root here); a machine where mount is refused skips these tests with that reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from liminal_jupyter.atomic import atomic_write_text
from tests.conftest import code, notebook_json

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))


@pytest.fixture
def read_only(tmp_path):
    """tmp_path/ro: a read-only view of tmp_path/src, which holds nb.ipynb."""
    source, view = tmp_path / "src", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    (source / "nb.ipynb").write_text(json.dumps(notebook_json([
        code("n = 2", "parameters"), code("rows = list(range(n))", "step:load"),
        code("total = sum(rows)", "step:add")])))
    for command in (["mount", "--bind", str(source), str(view)],
                    ["mount", "-o", "remount,ro,bind", str(view)]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(view)], check=False)
            pytest.skip(f"cannot make a read-only mount here: {done.stderr.strip()}")
    try:
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


@pytest.mark.parametrize(("args", "path"), [
    (["run", "nb.ipynb", "--no-tracking"], ".liminal"),
    (["test", "nb.ipynb"], ".liminal"),
    (["compile", "nb.ipynb", "--target", "kfp", "-o", "nb.yaml"], "nb.yaml"),
    (["compile", "nb.ipynb", "--target", "airflow", "-o", "nb.py"], "nb.py"),
], ids=["run", "test", "compile-kfp", "compile-airflow"])
def test_a_command_that_cannot_write_says_where_in_one_line(read_only, args, path):
    done = subprocess.run([LIMINAL_NB, *args], cwd=read_only, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    shown = path if path.startswith("nb.") else str(read_only / path)
    assert done.stderr.strip().splitlines()[-1] == f"error: {shown}: Read-only file system."
    assert "Traceback" not in done.stderr


def test_a_failed_atomic_write_names_the_file_not_its_temporary(read_only):
    """On a read-only disk even removing the temporary that was never created fails; the
    write's own error, naming the file asked for, is what reaches the caller."""
    with pytest.raises(OSError) as raised:
        atomic_write_text(read_only / "out.txt", "x")
    assert raised.value.filename == str(read_only / "out.txt")
    assert raised.value.strerror == "Read-only file system"
