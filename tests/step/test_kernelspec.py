"""A notebook whose kernelspec names a kernel this machine does not have (an author's
conda environment, "conda-env-ml-py"): its steps run in this Python's kernel, with a
warning, on every engine, instead of every step failing with papermill's NoSuchKernel.
`liminal-nb run --kernel NAME` picks the kernel, as papermill's -k does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.step.execute import execute_step
from liminal_jupyter.step.kernelspec import installed_kernels, kernel_for
from tests.conftest import code, notebook_json

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))
AUTHORS = {"kernelspec": {"name": "conda-env-ml-py", "display_name": "Python [conda env:ml]",
                          "language": "python"}}
WARNING = ("the notebook's kernel 'conda-env-ml-py' is not installed here (installed: "
           f"{', '.join(installed_kernels())}); its steps run in 'python3'")


@pytest.fixture
def authors_notebook(tmp_path) -> Path:
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook_json([
        code("import sys", "imports"),
        code("rows = [1, 2, 3]", "step:load"),
        code("total = sum(rows)\nprint('total', total, sys.executable)", "step:add"),
    ], AUTHORS)))
    return path


def test_an_installed_kernel_is_used_as_named():
    assert kernel_for("python3") == ("python3", None)
    assert "conda-env-ml-py" not in installed_kernels()
    kernel, note = kernel_for("conda-env-ml-py")
    assert kernel == "python3" and note.startswith(WARNING)


def test_a_step_in_a_pod_runs_in_this_pythons_kernel(authors_notebook, tmp_path, capfd):
    """What a KFP component or an Airflow task does: execute_step with no kernel given."""
    result = execute_step(parse_notebook(authors_notebook), "load", {}, {}, tmp_path / "out")
    assert result.status == "succeeded", result.error and result.error.render()
    assert f"warning: {WARNING}" in capfd.readouterr().err


def test_run_warns_and_runs_and_kernel_picks_one(authors_notebook):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([LIMINAL_NB, "run", "nb.ipynb", "--no-tracking", *args],
                              cwd=authors_notebook.parent, capture_output=True, text=True,
                              timeout=300)

    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert WARNING in done.stdout + done.stderr
    executed = json.loads(next(authors_notebook.parent.glob(
        ".liminal/runs/*/steps/add/executed.ipynb")).read_text())
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"]
                      for o in c.get("outputs", []))
    assert f"total 6 {sys.executable}" in printed  # this Python's kernel ran it

    chosen = run("--kernel", "python3", "--no-cache")
    assert chosen.returncode == 0 and WARNING not in chosen.stdout + chosen.stderr
    refused = run("--kernel", "conda-env-ml-py")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: --kernel is for local runs with an installed kernel: kernel 'conda-env-ml-py' "
        f"is not installed here (installed: {', '.join(installed_kernels())}).")
