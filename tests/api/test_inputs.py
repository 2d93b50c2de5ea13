"""A failing step's inputs in a fresh kernel, then a fix and `run --resume`: the debug loop.

Real runs (the local runner, real kernels) and a real kernel started with jupyter_client,
in which `%load_ext liminal_jupyter` and `%liminal inputs STEP` load what the step read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import code

from liminal_jupyter import Pipeline
from liminal_jupyter.api.inputs import InputsUnavailable, load_inputs

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))

FAILING = [
    code("n = 4\ndivisor = 0", "parameters"),
    code("rows = list(range(n))\nscale = lambda x: x * 3", "step:load"),
    code("total = sum(scale(r) for r in rows) / divisor", "step:add"),
]
FIXED_ADD = "total = sum(scale(r) for r in rows) / max(divisor, 1)"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LIMINAL_NB, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """A notebook whose step `add` fails, run once from the CLI: (notebook, run id)."""
    from conftest import notebook_json

    folder = tmp_path_factory.mktemp("debug")
    notebook = folder / "debug.ipynb"
    notebook.write_text(json.dumps(notebook_json(FAILING)))
    done = run_cli("run", str(notebook), "--no-tracking", "-p", "n=5", cwd=folder)
    assert done.returncode == 1, done.stdout + done.stderr
    run_id = Pipeline.from_notebook(notebook).runs()[0].run_id
    return notebook, run_id


def in_fresh_kernel(cwd: Path, *cells: str) -> list[str]:
    """Run cells in a new python3 kernel started in `cwd`; what each printed (or raised)."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(cwd))
    printed: list[str] = []
    try:
        for cell in cells:
            out: list[str] = []

            def collect(msg, out=out):
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    out.append("\n".join(msg["content"]["traceback"]))

            client.execute_interactive(cell, output_hook=collect, timeout=120)
            printed.append("".join(out))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return printed


def test_liminal_inputs_in_a_fresh_kernel_gives_what_the_failed_step_received_and_resume_completes(
        failed_run):
    notebook, run_id = failed_run
    run = Pipeline.from_notebook(notebook).get_run(run_id)
    assert run.steps == {"load": "succeeded", "add": "failed"}

    loaded, values = in_fresh_kernel(
        notebook.parent,
        "%load_ext liminal_jupyter\n%liminal inputs add",  # the only notebook with runs here
        "import json\nprint(json.dumps([rows, [scale(r) for r in rows], divisor, "
        "'n' in globals()]))")

    assert "scale was saved with cloudpickle; loading it runs code" in loaded
    assert loaded.index("cloudpickle") < loaded.index("loaded the inputs of step 'add'")
    assert f"of run {run_id}" in loaded
    rows, scaled, divisor, has_n = json.loads(values.strip().splitlines()[-1])
    assert rows == run.load("rows") == [0, 1, 2, 3, 4]  # as the step read them (n=5)
    assert scaled == [0, 3, 6, 9, 12] and divisor == 0
    assert not has_n  # only what the step reads: `add` never reads n

    cells = json.loads(notebook.read_text())
    cells["cells"][2]["source"] = FIXED_ADD  # the fix, made where the user made it
    notebook.write_text(json.dumps(cells))
    done = run_cli("run", str(notebook), "--resume", run_id, "--no-tracking", cwd=notebook.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert run.status == "succeeded" and run.load("total") == 30.0
    assert run.steps == {"load": "succeeded", "add": "succeeded"}


def test_load_inputs_from_the_api_names_the_step_and_run_and_refuses_clearly(failed_run):
    notebook, run_id = failed_run
    pipeline = Pipeline.from_notebook(notebook)
    namespace: dict = {}

    values = pipeline.load_inputs("add", run=run_id, into=namespace)

    assert values["rows"] == namespace["rows"] == [0, 1, 2, 3, 4]
    assert namespace["scale"](2) == 6 and namespace["divisor"] == 0
    with pytest.raises(InputsUnavailable, match="no step 'nope'; its steps are: load, add"):
        pipeline.load_inputs("nope")


def test_the_magic_asks_for_the_notebook_when_it_cannot_tell(tmp_path, failed_run):
    (printed,) = in_fresh_kernel(tmp_path, "%load_ext liminal_jupyter\n%liminal inputs add")
    assert "pass --notebook PATH" in printed and "Traceback" not in printed


def test_a_kfp_local_runs_inputs_load_from_its_pipeline_root(tmp_path):
    """kfp-local keeps artifacts in its own pipeline root, not in the ledger's records:
    they are still found (by the step manifests) and loaded, as `show RUN VAR` shows."""
    from conftest import notebook_json

    notebook = tmp_path / "kfp.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        [FAILING[0], code("rows = list(range(n))", "step:load"),
         code("total = sum(rows) / divisor", "step:add")])))
    done = run_cli("run", str(notebook), "--backend", "kfp-local", "-q", "-p", "n=6",
                   cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    pipeline = Pipeline.from_notebook(notebook)
    run_id = pipeline.runs()[0].run_id

    namespace: dict = {}
    assert pipeline.load_inputs("add", into=namespace) == {"rows": [0, 1, 2, 3, 4, 5],
                                                         "divisor": 0}
    assert namespace["rows"] == pipeline.get_run(run_id).load("rows")
    shown = run_cli("show", run_id, "rows", cwd=tmp_path)
    assert shown.returncode == 0 and "len:   6" in shown.stdout


def test_the_inputs_of_one_element_of_a_fan_out_step_bind_its_element(tmp_path):
    """The panel offers Load inputs on an element row (`scale.1`): the element's kernel
    started with the list NAME bound to element 1, and so do the loaded inputs."""
    from conftest import notebook_json

    notebook = tmp_path / "fan.ipynb"
    notebook.write_text(json.dumps(notebook_json([
        code("sizes = [2, 3, 5]", "parameters"),
        code("base = list(range(4))", "step:load"),
        code("scaled = [b * sizes for b in base]", "step:scale", "foreach:sizes"),
    ])))
    done = run_cli("run", str(notebook), "--no-tracking", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    pipeline = Pipeline.from_notebook(notebook)
    run_id = pipeline.runs()[0].run_id

    namespace: dict = {}
    said: list[str] = []
    load_inputs(notebook, "scale.1", run_id, into=namespace, say=said.append)
    assert namespace == {"base": [0, 1, 2, 3], "sizes": 3}
    assert said == [f"liminal: loaded the inputs of step 'scale.1' of run {run_id}: "
                    "base (json), sizes (parameter)"]
    with pytest.raises(InputsUnavailable, match=r"step 'scale' ran 3 elements in run "
                       rf"{run_id} \(scale.0 to scale.2\): there is no element 3\."):
        pipeline.load_inputs("scale.3", run=run_id)
    with pytest.raises(InputsUnavailable, match="there is no element 7"):
        pipeline.load_inputs("scale.7")  # the latest run that reached the step
    with pytest.raises(InputsUnavailable, match="no step 'load.1'"):
        pipeline.load_inputs("load.1", run=run_id)
