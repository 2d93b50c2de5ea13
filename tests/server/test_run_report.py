"""GET /liminal/runs/ID/report: a run's report page for the panel's Report tab.

A real Jupyter server with the extension (pytest-jupyter) and a real failed run recorded
next to the notebook, as `liminal-nb run` does.
"""

from __future__ import annotations

import pytest
from conftest import code

from liminal_jupyter.runs.launch import launch_run, run_store_for
from tests.server.polling import RUN_TIMEOUT

pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

FAILING = [
    code("rows = [1, 2, 3]\nprint('loaded', len(rows), 'rows')", "step:load"),
    code("ratio = sum(rows) / (len(rows) - 3)", "step:divide"),
]


@pytest.fixture
def failed_run(put_nb):
    notebook = put_nb(FAILING, "work/fails.ipynb")
    launched = launch_run(notebook, {}, tracking=False)
    assert launched.process.wait(timeout=RUN_TIMEOUT) == 1
    return notebook, launched.run_id


async def test_the_report_is_served_sandboxed_with_the_failing_traceback(
    failed_run, jp_fetch
):
    _, run_id = failed_run

    response = await jp_fetch("liminal", "runs", run_id, "report",
                              params={"path": "work/fails.ipynb"}, raise_error=False)

    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp
    page = response.body.decode()
    assert '<details id="step-1-divide" class="step" open>' in page
    assert "ZeroDivisionError" in page and "loaded 3 rows" in page
    assert "<script" not in page


async def test_a_notebook_recorded_outside_its_run_folder_is_left_out(failed_run, jp_fetch,
                                                                      jp_root_dir):
    notebook, run_id = failed_run
    secret = jp_root_dir / "secret.ipynb"
    secret.write_text(notebook.read_text().replace("rows = [1, 2, 3]", "TOP-SECRET = 1"))
    run_store_for(notebook).update_step(run_id, "load", executed_notebook=str(secret))

    response = await jp_fetch("liminal", "runs", run_id, "report",
                              params={"path": "work/fails.ipynb"}, raise_error=False)

    page = response.body.decode()
    assert response.code == 200 and "TOP-SECRET" not in page
    assert "no executed notebook of this step is available" in page


async def test_unknown_runs_confined_paths_and_no_token(api, failed_run):
    _, run_id = failed_run
    for route, params, headers, expected in (
        (("runs", "20261126-000000-abcd", "report"), {"path": "work/fails.ipynb"}, None, 404),
        (("runs", run_id, "report"), {"path": "../fails.ipynb"}, None, 403),
        (("runs", run_id, "report"), {"path": "work/fails.ipynb"}, {"Authorization": ""}, 403),
    ):
        status, reply = await api("GET", *route, params=params, headers=headers)
        assert status == expected, (route, params, reply)
        assert "ZeroDivisionError" not in str(reply)
