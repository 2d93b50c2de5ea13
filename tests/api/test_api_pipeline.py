"""The Python API on real notebooks with real runs: `Pipeline` reads, checks, runs, compiles.

Runs go through the real local runner in a child process with real kernels; the notebooks
are tiny and standard-library only, with MLflow tracking off.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from conftest import code

from liminal_jupyter import Pipeline, PipelineInvalid, Run
from liminal_jupyter.diagnostics import NotebookError
from liminal_jupyter.params import ParameterError

COUNT = [
    code("n = 3  # range: 1..10 how many rows\nlabel = 'x'  # a tag for the note\n"
         "scale = 1.5\nverbose = False", "parameters"),
    code("rows = [i * scale for i in range(n)]", "step:load"),
    code("total = sum(rows)\nnote = f'{label}:{total}' if not verbose else label", "step:add"),
    code("total", "metrics"),
]

SLOW = [
    code("import time", "imports"),
    code("start = 1", "step:first"),
    code("print('sleeping', flush=True)\ntime.sleep(600)\nfinish = start", "step:wait"),
]


def stop_runner(run) -> None:
    """Leave no runner behind if the test failed before the run ended (a 600 s sleep)."""
    if run._process is not None and run._process.poll() is None:
        os.killpg(run._process.pid, signal.SIGKILL)
        run._process.wait()


def wait_for_log(run: Run, step: str, text: str, timeout: float = 120.0) -> None:
    """Until the step's code has printed `text` (so it runs in its kernel, not warming)."""
    deadline = time.monotonic() + timeout
    while text not in run.log(step):
        assert time.monotonic() < deadline, f"step {step} never printed {text!r}: {run.steps}"
        time.sleep(0.2)


def test_from_notebook_lists_steps_in_run_order_and_typed_parameters(write_nb):
    pipeline = Pipeline.from_notebook(write_nb(COUNT, name="counting.ipynb"))

    assert pipeline.name == "counting"
    assert pipeline.valid and pipeline.errors == []
    assert list(pipeline.steps) == ["load", "add"]
    assert pipeline.steps["add"].outputs == [] and pipeline.steps["load"].outputs == ["rows"]
    params = pipeline.parameters
    assert [(p.name, p.type, p.default) for p in params.values()] == [
        ("n", "int", 3), ("label", "str", "x"), ("scale", "float", 1.5),
        ("verbose", "bool", False)]
    assert (params["n"].minimum, params["n"].maximum, params["n"].help) == (1, 10, "how many rows")
    assert "Steps (2)" in str(pipeline)  # what `liminal-nb inspect` prints


def test_a_run_with_typed_parameters_waits_and_reports_metrics(write_nb):
    pipeline = Pipeline.from_notebook(write_nb(COUNT))
    tricky = "it's \"quoted\"\n__import__('os').system('false')"

    run = pipeline.run(n=4, scale=2, label=tricky, tracking=False)  # no notebook: waits

    assert run.status == "succeeded" and run.finished
    assert run.steps == {"load": "succeeded", "add": "succeeded"}
    assert run.metrics == {"total": 12.0}
    assert run.parameters == {"n": 4, "scale": 2.0, "label": tricky}  # 2 typed as a float
    assert run.load("rows") == [0.0, 2.0, 4.0, 6.0]
    assert run.outputs("load") == {"rows": [0.0, 2.0, 4.0, 6.0]}
    assert "succeeded" in repr(run) and "total=12" in repr(run)


def test_a_bad_value_is_refused_before_anything_starts(write_nb):
    notebook = write_nb(COUNT)
    pipeline = Pipeline.from_notebook(notebook)

    with pytest.raises(ParameterError, match=r"n='many': expected a whole number"):
        pipeline.run(n="many", tracking=False)
    with pytest.raises(ParameterError, match="at most 10"):
        pipeline.run(n=11, tracking=False)
    with pytest.raises(ParameterError, match="Did you mean 'label'"):
        pipeline.run(lable="y", tracking=False)

    assert pipeline.runs() == []
    runs = notebook.parent / ".liminal" / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def test_a_parameter_named_like_an_option_is_passed_in_a_dict(write_nb):
    pipeline = Pipeline.from_notebook(write_nb([
        code("wait = 2\njobs = 'a'", "parameters"),
        code("product = wait * len(jobs)", "step:only"),
        code("product", "metrics"),
    ]))

    run = pipeline.run({"wait": 3, "jobs": "bcd"}, wait=True, tracking=False)

    assert run.parameters == {"wait": 3, "jobs": "bcd"}
    assert run.metrics == {"product": 9}


def test_runs_lists_this_notebooks_runs_newest_first_and_get_run_takes_a_prefix(write_nb):
    pipeline = Pipeline.from_notebook(write_nb(COUNT))
    first = pipeline.run(n=1, tracking=False)
    second = pipeline.run(n=2, tracking=False)

    records = pipeline.runs()

    assert [r.run_id for r in records] == [second.run_id, first.run_id]
    assert records[0].parameters == {"n": 2}
    again = pipeline.get_run(first.run_id[:-1] if first.run_id[:-1] != second.run_id[:-1]
                             else first.run_id)
    assert again.run_id == first.run_id and again.metrics == {"total": 0.0}


def test_load_names_what_was_saved_when_the_variable_was_not(write_nb):
    run = Pipeline.from_notebook(write_nb(COUNT)).run(tracking=False)

    with pytest.raises(KeyError, match="saved here: note, rows, total"):
        run.load("nothing")
    with pytest.raises(KeyError, match="no step 'nope'"):
        run.load("rows", step="nope")


def test_wait_times_out_and_cancel_stops_the_run_keeping_finished_steps(write_nb):
    run = Pipeline.from_notebook(write_nb(SLOW)).run(wait=False, tracking=False)
    try:
        wait_for_log(run, "wait", "sleeping")
        assert run.steps == {"first": "succeeded", "wait": "running"}

        with pytest.raises(TimeoutError, match="still running"):
            run.wait(timeout=0.5)
        assert run.cancel()

        assert run.wait(timeout=120).status == "cancelled"
        assert run.steps["first"] == "succeeded"
        assert run.steps["wait"] in ("failed", "interrupted")  # the runner stopped its kernel
        assert not run.cancel()  # nothing left to stop
    finally:
        stop_runner(run)


def test_a_failed_step_is_reported_with_its_error_and_log(write_nb):
    run = Pipeline.from_notebook(write_nb([
        code("x = 1", "step:ok"),
        code("print('about to fail')\nraise ValueError('no good: ' + str(x))", "step:bad"),
    ])).run(tracking=False)

    assert run.status == "failed"
    assert run.steps == {"ok": "succeeded", "bad": "failed"}
    assert "ValueError" in run.error("bad") and "no good: 1" in run.error("bad")
    assert "about to fail" in run.log("bad")
    assert run.error("ok") is None


def test_an_invalid_notebook_reads_but_cannot_run_or_compile(write_nb, tmp_path):
    pipeline = Pipeline.from_notebook(write_nb([code("y = undefined_thing + 1", "step:a")]))

    assert not pipeline.valid
    assert [e.code for e in pipeline.errors] == ["undefined-name"]
    with pytest.raises(PipelineInvalid, match="undefined_thing") as caught:
        pipeline.run(tracking=False)
    assert "cell 1" in str(caught.value)
    with pytest.raises(PipelineInvalid):
        pipeline.compile(tmp_path / "p.yaml")


def test_a_file_that_is_not_a_notebook_is_a_notebook_error(tmp_path):
    with pytest.raises(NotebookError, match="no such file"):
        Pipeline.from_notebook(tmp_path / "missing.ipynb")


def test_run_reads_the_notebook_as_saved_now(write_nb):
    notebook = write_nb(COUNT)
    pipeline = Pipeline.from_notebook(notebook)
    data = json.loads(notebook.read_text())
    data["cells"][0]["source"] += "\nextra = 5"
    notebook.write_text(json.dumps(data))

    run = pipeline.run(extra=7, tracking=False)  # unknown to the notebook as first read

    assert run.status == "succeeded" and run.parameters == {"extra": 7}
    assert list(pipeline.parameters)[-1] == "extra"


def test_compile_writes_kfp_yaml_that_kfp_loads(write_nb, tmp_path):
    from kfp import components

    pipeline = Pipeline.from_notebook(write_nb(COUNT))

    path = pipeline.compile(tmp_path / "out" / "counting.yaml")

    assert path == tmp_path / "out" / "counting.yaml"
    component = components.load_component_from_file(str(path))
    assert set(component.component_spec.inputs) == {"n", "label", "scale", "verbose"}
    with pytest.raises(ValueError, match="one of: kfp"):
        pipeline.compile(tmp_path / "x", target="argo")


def test_a_step_cannot_start_a_run_of_its_own_notebook(write_nb):
    """The notebook calls the API on itself: once a pipeline, that cell would start runs
    without end. The runner's mark stops it, and the step fails saying why."""
    notebook = write_nb([
        code("from liminal_jupyter import Pipeline", "imports"),
        code("import os\nstarted = Pipeline.from_notebook(os.path.abspath('self.ipynb'))"
             ".run(tracking=False)", "step:again"),
    ], name="self.ipynb")

    run = Pipeline.from_notebook(notebook).run(tracking=False)

    assert run.status == "failed"
    assert "already running this code as a pipeline step" in run.error("again")
    assert len(Pipeline.from_notebook(notebook).runs()) == 1
