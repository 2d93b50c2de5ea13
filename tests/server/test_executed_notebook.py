"""GET /liminal/runs/ID/steps/STEP/notebook: an executed step notebook as JSON, for the
panel's viewer when the contents API hides `.liminal/` (no `allow_hidden`).

A real Jupyter server with the extension (pytest-jupyter, `allow_hidden` left at its
default, false) and a real run recorded next to the notebook, as `liminal-nb run` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import code

from liminal_jupyter.runs.launch import launch_run, run_store_for
from tests.server.polling import RUN_TIMEOUT

pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

COUNT = [
    code("n = 3", "parameters"),
    code("rows = list(range(n))\nprint('loaded', len(rows), 'rows')", "step:load"),
    code("total = sum(rows)\nprint('total is', total)", "step:add"),
    code("total", "metrics"),
]


@pytest.fixture
def finished_run(put_nb):
    """A finished run of work/count.ipynb (as from a terminal): (notebook, run id)."""
    notebook = put_nb(COUNT, "work/count.ipynb")
    launched = launch_run(notebook, {"n": 4}, tracking=False)
    assert launched.process.wait(timeout=RUN_TIMEOUT) == 0
    return notebook, launched.run_id


def notebook_route(run_id: str, step: str) -> tuple[str, ...]:
    return ("runs", run_id, "steps", step, "notebook")


async def test_the_executed_notebook_is_served_as_the_file_holds_it(api, finished_run,
                                                                    jp_serverapp):
    notebook, run_id = finished_run
    assert not jp_serverapp.contents_manager.allow_hidden  # the contents API hides it
    record = run_store_for(notebook).get_step(run_id, "add")

    status, served = await api("GET", *notebook_route(run_id, "add"),
                               params={"path": "work/count.ipynb"})

    assert status == 200, served
    assert served == json.loads(Path(record.executed_notebook).read_text())
    outputs = [o for c in served["cells"] for o in c.get("outputs", [])]
    assert any("total is 6" in "".join(o.get("text", "")) for o in outputs)


async def test_a_run_id_prefix_finds_the_run_as_elsewhere(api, finished_run):
    _, run_id = finished_run
    status, served = await api("GET", *notebook_route(run_id[:-2], "load"),
                               params={"path": "work/count.ipynb"})
    assert status == 200 and served["cells"], served


async def test_unknown_runs_and_steps_are_404(api, finished_run):
    _, run_id = finished_run
    for route in (notebook_route("20261126-000000-abcd", "add"),
                  notebook_route(run_id, "nosuch")):
        status, reply = await api("GET", *route, params={"path": "work/count.ipynb"})
        assert status == 404, (route, reply)
        assert reply["message"], reply
    # A run of another notebook's folder is not found through this one.
    status, _ = await api("GET", *notebook_route(run_id, "add"),
                          params={"path": "count.ipynb"})
    assert status == 404


async def test_step_names_with_dots_or_slashes_are_refused(
    api, finished_run, http_server_client, jp_base_url, jp_auth_header
):
    _, run_id = finished_run
    for step in ("a..b", "..", ".hidden", "a b", "load%2F..%2F..%2Fadd"):
        status, reply = await api("GET", *notebook_route(run_id, step),
                                  params={"path": "work/count.ipynb"})
        assert status == 400, (step, reply)
        assert "not a step name" in reply["message"]
    # Percent-encoded slashes reach the handler decoded, and are refused there; literal
    # ones never match the route.
    for raw, expected in (("load%2F..%2Fadd", 400), ("..%2F..%2Fcount.ipynb", 400),
                          ("load/../add", 404)):
        url = (f"{jp_base_url}liminal/runs/{run_id}/steps/{raw}/notebook"
               "?path=work%2Fcount.ipynb")
        response = await http_server_client.fetch(url, headers=jp_auth_header,
                                                  raise_error=False)
        assert response.code == expected, (raw, response.code)
        assert b'"cells"' not in (response.body or b""), raw


async def test_a_recorded_path_outside_the_run_folder_is_not_served(api, finished_run):
    """The store is a file in the user's folder: its word on the path is checked."""
    notebook, run_id = finished_run
    store = run_store_for(notebook)
    store.update_step(run_id, "add", executed_notebook=str(notebook))  # the source notebook

    status, reply = await api("GET", *notebook_route(run_id, "add"),
                              params={"path": "work/count.ipynb"})

    assert status == 403, reply
    assert "cells" not in reply


async def test_a_step_without_an_executed_notebook_is_404(api, finished_run):
    notebook, run_id = finished_run
    run_store_for(notebook).update_step(run_id, "add", executed_notebook=None)
    status, reply = await api("GET", *notebook_route(run_id, "add"),
                              params={"path": "work/count.ipynb"})
    assert status == 404 and "no executed notebook" in reply["message"]


async def test_without_a_token_it_is_403(api, finished_run):
    _, run_id = finished_run
    for headers in ({"Authorization": ""}, {"Authorization": "token not-the-token"}):
        status, reply = await api("GET", *notebook_route(run_id, "add"),
                                  params={"path": "work/count.ipynb"}, headers=headers)
        assert status == 403, reply
        assert "cells" not in str(reply)


async def test_the_notebook_path_is_confined_as_everywhere(api, finished_run):
    _, run_id = finished_run
    for path, expected in (("../count.ipynb", 403), ("/etc/x.ipynb", 403),
                           ("work/.liminal/x.ipynb", 404)):
        status, _ = await api("GET", *notebook_route(run_id, "add"), params={"path": path})
        assert status == expected, path
