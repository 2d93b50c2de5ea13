"""A local run leaves executed.html beside each step's executed.ipynb (step/pages.py)."""

from __future__ import annotations

import json

from conftest import code

from liminal_jupyter.cli import main
from liminal_jupyter.runs.store import RunStore


def test_each_step_gets_a_page_with_its_output_and_show_names_it(write_nb, capsys):
    notebook = write_nb([
        code("total = sum(range(5))\nprint('the total is', total)", "step:count"),
        code("print('<script>alert(1)</script>')\nratio = total / 0", "step:divide"),
    ])

    status = main(["run", str(notebook), "--no-tracking", "--quiet"])
    capsys.readouterr()

    assert status == 1
    store = RunStore(notebook.parent / ".liminal")
    run_id = store.list_runs(limit=1)[0].run_id
    steps = {r.step: r for r in store.steps(run_id)}
    count = store.step_dir(run_id, "count") / "executed.html"
    divide = store.step_dir(run_id, "divide") / "executed.html"
    assert "the total is 10" in count.read_text()
    failed = divide.read_text()
    assert "ZeroDivisionError" in failed and "division by zero" in failed
    assert "<script>alert" not in failed and "&lt;script&gt;alert(1)" in failed
    assert steps["divide"].status == "failed"

    assert main(["show", run_id, "--dir", str(notebook.parent)]) == 0
    shown = capsys.readouterr().out
    assert f"html:     {count}" in shown and f"html:     {divide}" in shown
    assert main(["show", run_id, "--dir", str(notebook.parent), "--json"]) == 0
    listed = {s["step"]: s["html"] for s in json.loads(capsys.readouterr().out)["steps"]}
    assert listed == {"count": str(count), "divide": str(divide)}


def test_no_html_renders_nothing(write_nb, capsys):
    notebook = write_nb([code("print('hi')", "step:only")])

    assert main(["run", str(notebook), "--no-tracking", "--quiet", "--no-html"]) == 0

    store = RunStore(notebook.parent / ".liminal")
    run_id = store.list_runs(limit=1)[0].run_id
    folder = store.step_dir(run_id, "only")
    assert (folder / "executed.ipynb").is_file()
    assert not (folder / "executed.html").exists()
