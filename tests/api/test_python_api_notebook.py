"""example_notebooks/python_api.ipynb runs top to bottom in a real kernel (papermill) and
is itself a valid one-step pipeline.

Executed in a copy, next to a copy of the notebook it drives, so nothing is written into
the repository. The saved widget state proves the live view's updates, made from a
background thread in the kernel, reached the front end's side of the comm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import EXAMPLES

NOTEBOOK = EXAMPLES / "python_api.ipynb"


def test_the_example_is_a_valid_one_step_pipeline():
    done = subprocess.run([sys.executable, "-m", "liminal_jupyter", "inspect", str(NOTEBOOK)],
                          capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert "Steps (1)" in done.stdout


def test_the_example_runs_in_a_real_kernel_and_its_live_view_reaches_succeeded(tmp_path):
    import papermill

    for name in ("python_api.ipynb", "iris_classification.ipynb"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    output = tmp_path / "executed.ipynb"

    papermill.execute_notebook(str(tmp_path / "python_api.ipynb"), str(output),
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False,
                               execution_timeout=900)

    executed = json.loads(output.read_text())
    text = "\n".join(
        "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
        for cell in executed["cells"] if cell["cell_type"] == "code"
        for out in cell.get("outputs", []))
    assert "succeeded {'fetch': 'succeeded', 'prepare': 'succeeded'" in text
    assert "'accuracy':" in text and "RandomForestClassifier trained on 4 features" in text
    assert "n_estimators='many': expected a whole number" in text
    assert "bytes of KFP v2 YAML" in text
    state = executed["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
    labels = [m["state"] for m in state["state"].values() if m["model_name"] == "LabelModel"]
    step_states = [s["value"] for s in labels if "liminal-step-state" in s.get("_dom_classes",
                                                                               [])]
    assert step_states == ["succeeded"] * 5
    runs = list((tmp_path / ".liminal" / "runs").iterdir())
    assert len(runs) == 1  # the bad value started nothing; the form was not clicked
