"""Partial runs, as a user types them: `--to`, `--from`, `--only`, and the refusals.

A diamond of tiny steps (a -> b, a -> c, b + c -> d) runs for real, with real kernels;
each step appends its name to a file, so a test sees exactly which steps ran.
"""

from __future__ import annotations

import json

import pytest
from conftest import code

from liminal_jupyter import Pipeline
from liminal_jupyter.cli import main
from liminal_jupyter.runs.store import RunStore

DIAMOND = [
    code("import pathlib\ndef ran(name):\n    with open('ran.txt', 'a') as f:\n"
         "        f.write(name + '\\n')", "functions"),
    code("a = 1\nran('a')", "step:a"),
    code("b = a + 10\nran('b')", "step:b"),
    code("c = a + 100\nran('c')", "step:c"),
    code("d = b + c\nran('d')", "step:d"),
]


def ran(folder) -> list[str]:
    path = folder / "ran.txt"
    steps = path.read_text().split() if path.exists() else []
    path.unlink(missing_ok=True)
    return sorted(steps)


def run(capsys, notebook, *flags: str) -> tuple[int, dict[str, str], str]:
    """`liminal-nb run NOTEBOOK FLAGS`: (exit status, step -> state, stderr)."""
    status = main(["run", str(notebook), "--no-tracking", "-q", *flags])
    err = capsys.readouterr().err
    store = RunStore(notebook.parent / ".liminal")
    runs = store.list_runs(notebook=notebook, limit=1)
    states = {r.step: r.status for r in store.steps(runs[0].run_id)} if runs else {}
    return status, states, err


@pytest.fixture(scope="module")
def diamond(tmp_path_factory):
    from conftest import notebook_json

    folder = tmp_path_factory.mktemp("partial")
    notebook = folder / "diamond.ipynb"
    notebook.write_text(json.dumps(notebook_json(DIAMOND)))
    return notebook


def test_with_no_earlier_run_from_and_only_refuse_and_say_what_to_run(diamond, capsys):
    status, _, err = run(capsys, diamond, "--from", "d")
    assert status == 2
    assert "b, c would not run, but d read(s) from them" in err and "--to d" in err
    assert not (diamond.parent / ".liminal" / "runs.db").exists() or not Pipeline.from_notebook(
        diamond).runs()  # nothing was recorded
    status, _, err = run(capsys, diamond, "--only", "nope")
    assert status == 2 and "no step 'nope'; its steps are: a, b, c, d" in err


def test_to_runs_only_the_step_and_its_ancestors(diamond, capsys):
    status, states, err = run(capsys, diamond, "--to", "b")
    assert status == 0, err
    assert ran(diamond.parent) == ["a", "b"]
    assert states == {"a": "succeeded", "b": "succeeded", "c": "skipped", "d": "skipped"}


def test_from_reruns_the_step_and_its_descendants_and_nothing_upstream(diamond, capsys):
    status, states, err = run(capsys, diamond)  # a full run: c exists now
    assert status == 0, err
    ran(diamond.parent)
    full = Pipeline.from_notebook(diamond).runs()[0].run_id

    status, states, err = run(capsys, diamond, "--from", "c")
    assert status == 0, err
    assert ran(diamond.parent) == ["c", "d"]
    assert states == {"a": "cached", "b": "cached", "c": "succeeded", "d": "succeeded"}
    latest = Pipeline.from_notebook(diamond).get_run(Pipeline.from_notebook(diamond).runs()[0]
                                                     .run_id)
    assert latest.load("d") == 112
    computed_b = RunStore(diamond.parent / ".liminal").get_step(full, "b").origin_run
    assert {r.step: r.cached_from_run for r in latest.step_records()}["b"] == computed_b


def test_only_runs_exactly_those_steps_from_the_api_too(diamond, capsys):
    status, states, err = run(capsys, diamond, "--only", "b,c")
    assert status == 0, err
    assert ran(diamond.parent) == ["b", "c"]
    assert states == {"a": "cached", "b": "succeeded", "c": "succeeded", "d": "skipped"}

    api_run = Pipeline.from_notebook(diamond).run(only="d", tracking=False)
    assert api_run.status == "succeeded" and ran(diamond.parent) == ["d"]
    assert api_run.steps == {"a": "skipped", "b": "cached", "c": "cached", "d": "succeeded"}


def test_partial_runs_are_refused_with_resume_and_in_the_api_before_starting(diamond, capsys):
    status, _, err = run(capsys, diamond, "--resume", "x", "--to", "a")
    assert status == 2 and "for new local runs" in err
    with pytest.raises(ValueError, match="whole pipeline"):
        Pipeline.from_notebook(diamond).run(to_step="a", engine="airflow",
                                            tracking=False)
