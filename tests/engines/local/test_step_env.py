"""`env:K=V` on a step: a local run gives the step's cells the variable, as KFP and Airflow
give their container or task process, and the kernel that had it serves no other step."""

from __future__ import annotations

import json

from conftest import code, notebook_json

from liminal_jupyter.cli import main
from liminal_jupyter.runs.store import RunStore


def test_a_steps_env_tag_reaches_its_cells_and_no_other_step(tmp_path, capsys):
    notebook = tmp_path / "env.ipynb"
    notebook.write_text(json.dumps(notebook_json([
        code("import os", "imports"),
        code("mount = os.environ.get('KALE_VOLUME_DATA', 'unset')", "step:with_env",
             "env:KALE_VOLUME_DATA=/data/raw"),
        code("later = os.environ.get('KALE_VOLUME_DATA', 'unset')\nboth = mount + '|' + later",
             "step:without_env"),
    ])))
    assert main(["run", "--no-tracking", "--no-cache", "--jobs", "1", "--json",
                 str(notebook)]) == 0, capsys.readouterr().err
    run_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    store = RunStore(tmp_path / ".liminal")
    from liminal_jupyter import Pipeline

    run = Pipeline.from_notebook(notebook).get_run(run_id)
    assert run.load("both") == "/data/raw|unset"
    assert {s.step: s.status for s in store.steps(run_id)} == {
        "with_env": "succeeded", "without_env": "succeeded"}
