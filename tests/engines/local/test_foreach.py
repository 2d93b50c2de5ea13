"""Fan-out on the local runner (`foreach:NAME`): one step execution per element, each with
its own record (`STEP.I`) and cache key; readers get lists in element order; a failing
element, a list that is not one and a list over the cap are one-line errors.

Real kernels through papermill, no mocks; notebooks are tiny and run with --no-tracking.
"""

from __future__ import annotations

import json

from conftest import code

from liminal_jupyter.cli import main
from liminal_jupyter.runs.store import RunStore
from liminal_jupyter.step.marshal import load_value


def run_json(capsys, notebook, *options):
    status = main(["run", str(notebook), "--no-tracking", "--json", *options])
    out, err = capsys.readouterr()
    run_id = json.loads(out.strip().splitlines()[-1])["run_id"]
    store = RunStore(notebook.parent / ".liminal")
    return status, {r.step: r for r in store.steps(run_id)}, out + err


def test_each_element_runs_with_the_name_bound_to_it_and_readers_get_lists(write_nb, capsys):
    notebook = write_nb([
        code("items = [1, 2, 3]", "parameters"),
        code("import os\nsquare = items * items\npid = os.getpid()", "step:square",
             "foreach:items"),
        code("order = list(square)\npids = len(set(pid))", "step:add"),
        code("total = sum(order)", "metrics"),
    ])
    status, steps, out = run_json(capsys, notebook, "--jobs", "2")
    assert status == 0, out
    assert {n: r.status for n, r in steps.items()} == {
        "square": "succeeded", "add": "succeeded", "square.0": "succeeded",
        "square.1": "succeeded", "square.2": "succeeded"}
    assert steps["add"].metrics == {"total": 14.0}
    assert load_value(steps["square.1"].outputs["square"]) == 4
    assert [load_value(r) for r in steps["square"].outputs["square"]] == [1, 4, 9]
    # Each element ran in a kernel of its own (two at once with --jobs 2).
    assert len({load_value(steps[f"square.{i}"].outputs["pid"]) for i in range(3)}) >= 2
    # `logs` addresses one element.
    assert main(["logs", steps["square"].run_id, "square.2", "--dir",
                 str(notebook.parent)]) == 0
    assert "element 2 of items: items = 3" in capsys.readouterr().out


def test_one_more_element_runs_only_that_element(write_nb, capsys):
    notebook = write_nb([
        code("items = [1, 2]", "parameters"),
        code("square = items * items", "step:square", "foreach:items"),
        code("total = sum(square)", "step:add"),
        code("total", "metrics"),
    ])
    assert run_json(capsys, notebook)[0] == 0
    status, steps, out = run_json(capsys, notebook, "-p", "items=[1, 2, 5]")
    assert status == 0, out
    assert [steps[f"square.{i}"].status for i in range(3)] == ["cached", "cached", "succeeded"]
    assert steps["add"].metrics == {"total": 30.0}


def test_partial_runs_reuse_or_rerun_a_fan_out_step_whole(write_nb, capsys):
    """--only the reader reuses every element of the latest run; --from the fan-out step
    runs its elements again (no cache), the steps before reused."""
    notebook = write_nb([
        code("items = [1, 2, 3]", "parameters"),
        code("base = 10", "step:start"),
        code("square = items * items + base", "step:square", "foreach:items"),
        code("total = sum(square)", "step:add"),
        code("total", "metrics"),
    ])
    assert run_json(capsys, notebook)[0] == 0
    status, steps, out = run_json(capsys, notebook, "--only", "add")
    assert status == 0, out
    assert (steps["square"].status, steps["add"].status) == ("cached", "succeeded")
    assert steps["add"].metrics == {"total": 44.0}
    status, steps, out = run_json(capsys, notebook, "--from", "square", "--no-cache")
    assert status == 0, out
    assert steps["start"].status == "cached"
    assert [steps[f"square.{i}"].status for i in range(3)] == ["succeeded"] * 3
    assert steps["add"].metrics == {"total": 44.0}


def test_a_file_a_fan_out_step_writes_cannot_be_read_after_it(write_nb, capsys):
    """Every element would write its own copy of the file: refused when the notebook is
    read, on every engine alike, naming the reader's cell."""
    notebook = write_nb([
        code("items = [1, 2]", "parameters"),
        code("open('last.txt', 'w').write(str(items))", "step:write", "foreach:items"),
        code("n = len(open('last.txt').read())", "step:read"),
    ])
    assert main(["run", str(notebook), "--no-tracking"]) == 2
    err = capsys.readouterr().err
    assert "cell 3" in err and "step 'read' reads last.txt, a file that step 'write' writes " \
        "once per element of items" in err


def test_a_failing_element_fails_the_step_naming_the_element(write_nb, capsys):
    notebook = write_nb([
        code("items = [1, 0, 2]", "parameters"),
        code("share = 1 / items", "step:divide", "foreach:items"),
        code("total = sum(share)", "step:add"),
    ])
    status, steps, out = run_json(capsys, notebook)
    assert status != 0
    assert steps["divide"].status == "failed"
    assert steps["divide.1"].status == "failed"
    assert steps["divide.0"].status == steps["divide.2"].status == "succeeded"
    assert steps["add"].status == "skipped"
    from liminal_jupyter.step.execute import render_error

    message = render_error(steps["divide"].error, "divide")
    assert message.startswith("step 'divide' failed for element 1 of items (0) in notebook "
                              "cell 2 (id c1), line 1"), message
    assert "ZeroDivisionError" in message


def test_foreach_over_something_not_a_list_is_one_line_naming_the_step_and_type(
        write_nb, capsys):
    notebook = write_nb([
        code("n = 3", "parameters"),
        code("items = {'a': n}", "step:make"),
        code("double = items * 2", "step:double", "foreach:items"),
    ])
    status, steps, out = run_json(capsys, notebook)
    assert status != 0
    assert steps["double"].status == "failed"
    assert steps["double"].error["message"] == (
        "step 'double' runs foreach:items, but items is a dict ({'a': 3}), not a list: give "
        "it a list of the values to run the step for")
    assert not [s for s in steps if s.startswith("double.")]


def test_more_elements_than_the_cap_is_an_error(write_nb, capsys):
    notebook = write_nb([
        code("items = [1, 2, 3]", "parameters"),
        code("double = items * 2", "step:double", "foreach:items", "foreach-max:2"),
    ])
    status, steps, _ = run_json(capsys, notebook)
    assert status != 0
    assert steps["double"].error["message"].startswith(
        "step 'double' runs foreach:items over 3 elements, more than its cap of 2: raise it "
        "with foreach-max:N")
    # The notebook-wide setting caps too; the tag wins over it.
    notebook = write_nb([
        code("items = [1, 2, 3]", "parameters"),
        code("double = items * 2", "step:double", "foreach:items"),
    ], {"liminal": {"foreach_max": 1}}, name="capped.ipynb")
    status, steps, _ = run_json(capsys, notebook)
    assert status != 0 and "more than its cap of 1" in steps["double"].error["message"]
