"""POST /liminal/compile and /liminal/submit, through a real Jupyter server with the extension.

Compiled YAML is checked by loading it with kfp's own component loader. No Kubeflow cluster
can run here, so submit is tested against the KFP REST v2beta1 stand-in on 127.0.0.1
(tests/kfp/kfp_standin.py): a contract test of what `kfp.Client` sends, not of a cluster.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from conftest import code

from tests.engines.kfp.kfp_standin import KfpStandin

# pytest-jupyter's server fixtures, then ours (jp_server_config with the extension on).
pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

COUNT = [
    code("n = 3\nlabel = 'x'", "parameters"),
    code("rows = list(range(n))", "step:load"),
    code("total = sum(rows)", "step:add"),
    code("total", "metrics"),
]
BROKEN = [code("x = 1", "step:a"), code("y = x + nowhere", "step:b")]


@pytest.fixture
def kfp_server(monkeypatch):
    monkeypatch.delenv("KF_PIPELINES_TOKEN", raising=False)
    with KfpStandin() as server:
        yield server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free once closed: nothing listens there


async def test_compile_returns_yaml_that_kfp_loads(api, put_nb, jp_fetch):
    from kfp import components

    put_nb(COUNT, "flows/count.ipynb", metadata={"liminal": {"name": "counting"}})

    response = await jp_fetch("liminal", "compile", method="POST",
                              body='{"path": "flows/count.ipynb", "image": "python:3.12"}')

    assert response.code == 200
    assert response.headers["Content-Type"] == "application/yaml"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="counting.pipeline.yaml"')
    text = response.body.decode()
    pipeline = components.load_component_from_text(text)
    assert pipeline.name == "counting"
    spec = yaml.safe_load(text)
    assert set(spec["root"]["inputDefinitions"]["parameters"]) == {"n", "label"}
    tasks = spec["root"]["dag"]["tasks"]
    assert len(tasks) == 2
    assert "python:3.12" in text


async def test_compile_to_an_airflow_dag_returns_the_dag_file(put_nb, jp_fetch, jp_root_dir):
    """Every engine that compiles is a target: airflow's DAG comes back as Python text that
    Airflow's own parser reads, and nothing is written beside the notebook."""
    import ast

    put_nb(COUNT, "flows/count.ipynb", metadata={"liminal": {"name": "counting"}})

    response = await jp_fetch("liminal", "compile", method="POST",
                              body='{"path": "flows/count.ipynb", "target": "airflow"}')

    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/x-python")
    assert response.headers["Content-Disposition"] == 'attachment; filename="counting.py"'
    text = response.body.decode()
    ast.parse(text)
    assert "dag_id='counting'" in text or 'dag_id="counting"' in text
    assert sorted(p.name for p in (Path(jp_root_dir) / "flows").iterdir()) == ["count.ipynb"]


async def test_compile_of_a_bad_notebook_is_400_with_its_errors(api, put_nb):
    put_nb(BROKEN, "bad.ipynb")

    status, reply = await api("POST", "compile", body={"path": "bad.ipynb"})

    assert status == 400
    assert "nowhere" in reply["message"] and "bad.ipynb" in reply["message"]
    [error] = reply["errors"]
    assert (error["cell_index"], error["cell_id"], error["step"]) == (1, "c1", "b")
    status, reply = await api("POST", "compile", body={"path": "bad.ipynb", "target": "x"})
    assert status == 400 and "unknown target" in reply["message"]


async def test_submit_creates_the_run_on_kfp_and_records_it(api, put_nb, kfp_server):
    put_nb(COUNT, "count.ipynb")

    status, reply = await api("POST", "submit", body={
        "path": "count.ipynb", "host": kfp_server.url, "parameters": {"n": 7},
        "experiment": "nightly"})

    assert status == 202, reply
    [sent] = kfp_server.created_runs()
    assert sent["runtime_config"]["parameters"] == {"n": 7}
    assert reply["remote_id"] in kfp_server.runs
    assert reply["url"] == f"{kfp_server.url}/#/runs/details/{reply['remote_id']}"
    assert [e["display_name"] for e in kfp_server.experiments.values()] == ["nightly"]
    status, listed = await api("GET", "runs", params={"path": "count.ipynb"})
    [run] = listed["runs"]
    assert (run["run_id"], run["backend"], run["remote_id"], run["host"]) == (
        reply["run_id"], "kfp", reply["remote_id"], kfp_server.url)
    assert run["parameters"] == {"n": 7}
    status, reply = await api("DELETE", "runs", run["run_id"], params={"path": "count.ipynb"})
    assert status == 202, reply  # POST .../runs/{id}:terminate on the host
    assert ("POST", f"/apis/v2beta1/runs/{run['remote_id']}:terminate") in kfp_server.paths()
    status, detail = await api("GET", "runs", run["run_id"], params={"path": "count.ipynb"})
    assert detail["run"]["status"] == "cancelled"
    status, reply = await api("DELETE", "runs", run["run_id"], params={"path": "count.ipynb"})
    assert status == 409  # it ended


async def test_submit_refuses_bad_parameters_before_contacting_kfp(api, put_nb, kfp_server):
    put_nb(COUNT, "count.ipynb")

    status, reply = await api("POST", "submit", body={
        "path": "count.ipynb", "host": kfp_server.url, "parameters": {"n": "many"}})

    assert status == 400 and "n" in reply["message"]
    assert kfp_server.requests == []
    status, reply = await api("POST", "submit", body={"path": "count.ipynb", "host": "ftp://x"})
    assert status == 400 and "http" in reply["message"]


async def test_an_unreachable_kfp_host_is_502(api, put_nb, jp_root_dir):
    put_nb(COUNT, "count.ipynb")

    status, reply = await api("POST", "submit", body={
        "path": "count.ipynb", "host": f"http://127.0.0.1:{closed_port()}"})

    assert status == 502, reply
    assert "cannot reach KFP" in reply["message"]
    status, listed = await api("GET", "runs", params={"path": "count.ipynb"})
    assert listed == {"runs": []}


async def test_status_says_what_the_server_offers(api):
    from liminal_jupyter import __version__

    status, reply = await api("GET", "status")

    assert status == 200
    engines = reply.pop("engines")
    assert reply == {"version": __version__, "root_dir": ".",
                     "backends": ["local", "airflow", "kfp-local"],
                     "compile_targets": ["airflow", "kfp"], "submit": ["airflow", "kfp"],
                     "allow_hidden": False}
    assert [e["name"] for e in engines] == ["local", "airflow", "kfp", "kfp-local"]
    local = engines[0]["capabilities"]
    assert local["resume"] and local["cache"] and not local["remote"]
