"""The engine registry is the only list of engines: an engine a third party installs through
the `liminal_jupyter.engines` entry-point group shows in `liminal-nb run --help`, in
`GET /liminal/status`, and runs the example pipeline, with nothing of ours changed.

The third party here is a distribution made in the test (a dist-info folder with its
entry_points.txt and a module beside it, on the path), exactly what `pip install` of a
plugin leaves in site-packages. Its engine is tiny and in-process: it runs each step in
notebook order through our step executor and records the run in the runs ledger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from liminal_jupyter.engines import registry
from liminal_jupyter.engines.base import Capabilities, Engine
from liminal_jupyter.runs.location import run_store_for
from tests.conftest import EXAMPLES

pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

LIMINAL_NB = [sys.executable, "-m", "liminal_jupyter"]

ENGINE_MODULE = textwrap.dedent('''\
    """A third party's engine: each step in notebook order, in this process's thread."""
    from liminal_jupyter.engines.base import Capabilities, RunResult
    from liminal_jupyter.engines.recorded import load_pipeline
    from liminal_jupyter.runs.location import run_store_for
    from liminal_jupyter.step.execute import execute_step


    class InlineEngine:
        name = "inline"
        description = "a test engine: steps one after another, recorded in the ledger"
        capabilities = Capabilities(run=True, cancel=False)

        def run(self, request, reporter):
            pipeline = request.pipeline or load_pipeline(request.notebook)
            store = run_store_for(request.notebook)
            run_id = request.run_id or store.new_run_id()
            order = [step.name for step in pipeline.steps]
            store.create_run(run_id, request.notebook, pipeline.name, self.name,
                             request.parameters, order)
            reporter.run_started(run_id, pipeline.name, order)
            saved, metrics, status = {}, {}, "succeeded"
            for name in order:
                step = pipeline.step(name)
                store.update_step(run_id, name, status="running")
                reporter.step_state(name, "running")
                inputs = {i.name: saved[i.name] for i in step.data_inputs}
                result = execute_step(pipeline, name, request.parameters, inputs,
                                      store.step_dir(run_id, name),
                                      cwd=request.notebook.parent)
                state = "succeeded" if result.succeeded else "failed"
                store.update_step(run_id, name, status=state, outputs=result.outputs,
                                  metrics=result.metrics,
                                  executed_notebook=result.executed_notebook)
                reporter.step_state(name, state)
                if not result.succeeded:
                    status = "failed"
                    break
                saved.update(result.outputs)
                metrics.update(result.metrics)
            store.finish_run(run_id, status, None)
            reporter.run_finished(status, {"run_id": run_id, "message": None})
            return RunResult(run_id, status, metrics)


    ENGINE = InlineEngine()
''')


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """A folder holding an installed distribution that adds the engine 'inline'."""
    site = tmp_path_factory.mktemp("site")
    (site / "liminal_inline_engine.py").write_text(ENGINE_MODULE, encoding="utf-8")
    info = site / "liminal_inline_engine-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: liminal-inline-engine\n"
                                   "Version: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[liminal_jupyter.engines]\ninline = liminal_inline_engine:ENGINE\n", encoding="utf-8")
    return site


@pytest.fixture
def installed(plugin_site, monkeypatch):
    """The plugin on this process's path (and its children's): the registry finds it."""
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(plugin_site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    registry.reload()
    yield plugin_site
    registry.reload()


def test_ours_are_entry_points_that_meet_the_interface():
    found = registry.engines()
    assert {"local", "kfp-local", "airflow", "kfp"} <= set(found)
    assert list(found)[0] == registry.DEFAULT == "local"
    for name, engine in found.items():
        assert isinstance(engine, Engine) and engine.name == name
        assert isinstance(engine.capabilities, Capabilities)
        if engine.capabilities.run:
            assert callable(getattr(engine, "run", None)), name
        if engine.capabilities.compile:
            assert callable(getattr(engine, "compile_file", None)), name
    assert registry.names(remote=True) == ["kfp"]
    assert "local" not in registry.names(compile=True)


def test_an_unknown_engine_names_those_there_are():
    with pytest.raises(registry.UnknownEngine, match="unknown engine 'argo'; one of: local"):
        registry.get_engine("argo")


def test_a_broken_plugin_is_left_out_with_a_warning(tmp_path, monkeypatch):
    info = tmp_path / "broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[liminal_jupyter.engines]\nbroken = nowhere:X\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload()
    try:
        with pytest.warns(UserWarning, match="engine 'broken' .*could not be loaded"):
            found = registry.engines()
        assert "broken" not in found and "local" in found
    finally:
        registry.reload()


def test_a_plugin_engine_is_offered_by_run_help(installed):
    done = subprocess.run([*LIMINAL_NB, "run", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "inline" in done.stdout and "a test engine" in done.stdout
    assert "inline" in registry.names(run=True)


async def test_a_plugin_engine_is_listed_by_the_server(installed, api):
    status, reply = await api("GET", "status")
    assert status == 200
    assert "inline" in reply["backends"]
    listed = {e["name"]: e for e in reply["engines"]}
    assert listed["inline"]["capabilities"]["run"] is True
    assert listed["inline"]["description"].startswith("a test engine")
    assert listed["kfp"]["capabilities"]["remote"] is True


def test_a_plugin_engine_runs_the_example_pipeline(installed, tmp_path):
    notebook = tmp_path / "iris_classification.ipynb"
    notebook.write_text((EXAMPLES / "iris_classification.ipynb").read_text())
    done = subprocess.run([*LIMINAL_NB, "run", str(notebook), "--backend", "inline",
                           "-p", "n_estimators=10", "--no-tracking"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = done.stdout.split()[1]
    assert done.stdout.startswith(f"run {run_id} (inline): succeeded")
    assert "accuracy=" in done.stdout
    store = run_store_for(notebook)
    run = store.get_run(run_id)
    assert (run.backend, run.status, run.parameters) == ("inline", "succeeded",
                                                        {"n_estimators": 10})
    steps = store.steps(run_id)
    assert steps and all(s.status == "succeeded" for s in steps)
    listed = subprocess.run([*LIMINAL_NB, "runs", str(notebook), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert [r["backend"] for r in json.loads(listed.stdout)] == ["inline"]


def test_a_submitted_kfp_run_is_followed_through_its_engine(tmp_path, monkeypatch):
    """The remote engine's submit (through the Engine interface), status and follow mirror
    the host's state into the runs ledger; the token given to submit is never recorded.

    No Kubeflow cluster runs here: the host is tests/engines/kfp/kfp_standin.py, a stand-in
    on 127.0.0.1 that speaks KFP's REST v2beta1 contract as kfp.Client uses it."""
    from liminal_jupyter.engines.base import SubmitRequest
    from liminal_jupyter.notebook.parse import parse_notebook
    from tests.engines.kfp.kfp_standin import KfpStandin

    monkeypatch.delenv("KF_PIPELINES_TOKEN", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/kfp/context.json
    notebook = tmp_path / "iris_classification.ipynb"
    notebook.write_text((EXAMPLES / "iris_classification.ipynb").read_text())
    engine = registry.get_engine("kfp")
    assert [o.name for o in engine.submit_options() if o.secret] == ["token"]
    with KfpStandin(token="s3cret-token") as host:
        done = engine.submit(SubmitRequest(notebook, parse_notebook(notebook), {},
                                           {"host": host.url, "token": "s3cret-token"}))
        assert done.url == f"{host.url}/#/runs/details/{done.remote_id}"
        store = run_store_for(notebook)
        ledger = b"".join(p.read_bytes() for p in store.root.rglob("*") if p.is_file())
        assert b"s3cret-token" not in ledger
        assert engine.status(store, done.run_id) == "running"  # the host says PENDING
        seen = []
        assert engine.follow(store, done.run_id, lambda s: seen.append(s.state),
                             interval=0.01) == "succeeded"
    assert seen[-1] == "SUCCEEDED"
    assert {s.status for s in store.steps(done.run_id)} == {"succeeded"}
    assert engine.status(store, done.run_id) == "succeeded"  # finished: no host asked


def test_a_submitted_kfp_run_is_cancelled_on_its_host(tmp_path, monkeypatch):
    """Engine.cancel terminates the run on the host (KFP REST `POST /runs/{id}:terminate`,
    on the stand-in) and records it cancelled; an ended run is not cancelled again."""
    from liminal_jupyter.engines.base import SubmitRequest
    from liminal_jupyter.notebook.parse import parse_notebook
    from tests.engines.kfp.kfp_standin import KfpStandin

    monkeypatch.delenv("KF_PIPELINES_TOKEN", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    notebook = tmp_path / "iris_classification.ipynb"
    notebook.write_text((EXAMPLES / "iris_classification.ipynb").read_text())
    engine = registry.get_engine("kfp")
    assert engine.capabilities.cancel
    with KfpStandin(task_by_task=True) as host:
        done = engine.submit(SubmitRequest(notebook, parse_notebook(notebook), {},
                                           {"host": host.url}))
        store = run_store_for(notebook)
        assert engine.status(store, done.run_id) == "running"
        assert engine.cancel(store, done.run_id) is True
        assert ("POST", f"/apis/v2beta1/runs/{done.remote_id}:terminate") in host.paths()
        assert store.get_run(done.run_id).status == "cancelled"
        assert engine.cancel(store, done.run_id) is False


async def test_the_server_cancels_through_the_run_engine(api, put_nb, jp_root_dir):
    """DELETE /liminal/runs/ID asks the run's engine: a KFP submission whose host cannot
    be reached is a 502 in one line, a local run that is not running any more is a 409."""
    import socket

    from tests.conftest import code

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    notebook = put_nb([code("x = 1", "step:a")], "nb.ipynb")
    store = run_store_for(notebook)
    store.create_run("kfp-run", notebook, "nb", "kfp", {}, ["a"], runner_pid=None,
                     host=f"http://127.0.0.1:{port}", remote_id="r-1")
    status, reply = await api("DELETE", "runs", "kfp-run", params={"path": "nb.ipynb"})
    assert status == 502 and "cannot reach KFP" in reply["message"], reply
    assert "\n" not in reply["message"]
    store.create_run("done-run", notebook, "nb", "local", {}, ["a"])
    store.finish_run("done-run", "succeeded", None)
    status, reply = await api("DELETE", "runs", "done-run", params={"path": "nb.ipynb"})
    assert status == 409 and "is not running (it is succeeded)" in reply["message"]
