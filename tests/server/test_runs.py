"""Runs over REST: started in a child process, watched through the run store, cancelled.

Real runner processes with real kernels, started by a real Jupyter server with the
extension; tiny standard-library notebooks.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from conftest import code

from liminal_jupyter.runs.launch import launch_run
from liminal_jupyter.runs.store import process_alive
from tests.server.polling import RUN_TIMEOUT, finished, wait_for

# pytest-jupyter's server fixtures, then ours (jp_server_config with the extension on).
pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

COUNT = [
    code("n = 3\nlabel = 'x'", "parameters"),
    code("rows = list(range(n))\nprint('loaded', len(rows), 'rows')", "step:load"),
    code("total = sum(rows)\nprint('total is', total, label)", "step:add"),
    code("total", "metrics"),
]

SLOW = [
    code("import time", "imports"),
    code("start = 1", "step:first"),
    code("time.sleep(600)\nfinish = start", "step:wait"),
]


async def test_a_run_started_over_rest_completes_and_its_state_is_served(
    api, put_nb, jp_root_dir, jp_serverapp
):
    put_nb(COUNT, "work/count.ipynb")
    tricky = "it's \"quoted\"\n__import__('os').system('false')"

    status, reply = await api("POST", "runs", body={
        "path": "work/count.ipynb", "parameters": {"n": 5, "label": tricky},
        "use_cache": False, "jobs": 2})

    assert status == 202, reply
    run_id = reply["run_id"]
    assert reply["run"]["run_id"] == run_id and reply["run"]["backend"] == "local"
    assert reply["run"]["status"] == "running"
    detail = await wait_for(api, "work/count.ipynb", run_id, finished)
    run, steps = detail["run"], {s["step"]: s for s in detail["steps"]}
    assert run["status"] == "succeeded", detail
    assert run["parameters"] == {"n": 5, "label": tricky}
    assert list(steps) == ["load", "add"]
    assert all(s["status"] == "succeeded" for s in steps.values())
    assert steps["add"]["metrics"] == {"total": 10.0}
    assert steps["add"]["duration"] == steps["add"]["ended"] - steps["add"]["started"] > 0
    assert "total is 10 it's" in steps["add"]["log_tail"]
    assert "loaded 5 rows" in steps["load"]["log_tail"]
    executed = steps["add"]["executed_notebook_path"]
    assert executed.startswith("work/.liminal/runs/" + run_id) and executed.endswith(".ipynb")
    assert (Path(jp_root_dir) / executed).is_file()
    assert detail["mlflow_url"] is None  # tracked in the local SQLite store: no web UI

    status, listed = await api("GET", "runs", params={"path": "work/count.ipynb"})
    assert status == 200 and listed["runs"][0]["run_id"] == run_id

    # The runner was this server's child: it is reaped, not left a zombie.
    pid = run["runner_pid"]
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, open(f"/proc/{pid}/status").read()
        await asyncio.sleep(0.1)
    assert jp_serverapp.web_app.settings["liminal_reaper"].running() == 0


async def test_a_kfp_local_run_over_rest_runs_the_compiled_pipeline(api, put_nb):
    put_nb(COUNT, "count.ipynb")

    status, reply = await api("POST", "runs", body={
        "path": "count.ipynb", "backend": "kfp-local", "parameters": {"n": 4},
        "tracking": False})

    assert status == 202, reply
    detail = await wait_for(api, "count.ipynb", reply["run_id"], finished)
    steps = {s["step"]: s for s in detail["steps"]}
    assert (detail["run"]["status"], detail["run"]["backend"]) == ("succeeded", "kfp-local")
    assert [s["status"] for s in steps.values()] == ["succeeded", "succeeded"]
    assert steps["add"]["metrics"] == {"total": 6.0}


async def test_the_mlflow_link_is_given_for_a_tracking_server(api, put_nb):
    put_nb(COUNT, "count.ipynb")
    status, reply = await api("POST", "runs", body={"path": "count.ipynb"})
    assert status == 202, reply
    run_id = reply["run_id"]
    # The runner records the run's end only once MLflow has it: a finished run has its link.
    detail = await wait_for(api, "count.ipynb", run_id, finished)
    tracked = detail["run"]["tracking_run_id"]
    assert tracked
    assert detail["run"]["status"] == "succeeded"
    assert detail["mlflow_url"] is None  # the default store is local SQLite: no web UI

    status, detail = await api("GET", "runs", run_id, params={
        "path": "count.ipynb", "tracking_uri": "http://127.0.0.1:5000/"})

    assert status == 200
    assert detail["mlflow_url"] == f"http://127.0.0.1:5000/#/runs/{tracked}"


async def test_a_run_started_from_a_terminal_is_listed_and_served(api, put_nb):
    notebook = put_nb(COUNT, "count.ipynb")
    launched = launch_run(notebook, {"n": 1}, tracking=False)  # as `liminal-nb run` would
    launched.process.wait(timeout=RUN_TIMEOUT)

    status, listed = await api("GET", "runs", params={"path": "count.ipynb"})
    assert status == 200
    assert [r["run_id"] for r in listed["runs"]] == [launched.run_id]
    status, detail = await api("GET", "runs", launched.run_id, params={"path": "count.ipynb"})
    assert status == 200 and detail["run"]["status"] == "succeeded"


async def test_no_runs_is_an_empty_list_and_creates_nothing(api, put_nb, jp_root_dir):
    put_nb(COUNT, "count.ipynb")

    status, listed = await api("GET", "runs", params={"path": "count.ipynb"})

    assert status == 200 and listed == {"runs": []}
    assert not (Path(jp_root_dir) / ".liminal").exists()
    status, reply = await api("GET", "runs", "20261126-000000-abcd",
                              params={"path": "count.ipynb"})
    assert status == 404 and "20261126-000000-abcd" in reply["message"]


async def test_bad_requests_are_400_with_the_runners_own_words(api, put_nb):
    put_nb(COUNT, "count.ipynb")

    cases = [
        ({"path": "count.ipynb", "parameters": {"n": "many"}}, "expected a whole number"),
        ({"path": "count.ipynb", "parameters": {"nn": 2}}, "no such parameter"),
        ({"path": "count.ipynb", "backend": "spark"}, "unknown backend"),
        ({"path": "count.ipynb", "use_cache": "yes"}, "'use_cache' must be true or false"),
        ({"path": "count.ipynb", "parameters": [1]}, "'parameters' must be an object"),
        ({"path": "count.ipynb", "jobs": 1.5}, "'jobs' must be a whole number"),
        ({"parameters": {}}, "no 'path' field"),
        ("{not json", "not valid JSON"),
        ([1, 2], "must be a JSON object"),
    ]
    for body, expected in cases:
        status, reply = await api("POST", "runs", body=body)
        assert status == 400, (body, reply)
        assert expected in reply["message"], (body, reply)
    status, listed = await api("GET", "runs", params={"path": "count.ipynb", "limit": "0"})
    assert status == 400


async def test_cancel_stops_a_slow_step_and_keeps_the_finished_ones(api, put_nb):
    put_nb(SLOW, "slow.ipynb")
    status, reply = await api("POST", "runs", body={"path": "slow.ipynb", "tracking": False})
    assert status == 202, reply
    run_id = reply["run_id"]

    def waiting_running(detail: dict) -> bool:
        assert not finished(detail), detail
        return any(s["step"] == "wait" and s["status"] == "running" for s in detail["steps"])

    await wait_for(api, "slow.ipynb", run_id, waiting_running)
    runner = (await api("GET", "runs", run_id, params={"path": "slow.ipynb"}))[1]["run"]

    status, reply = await api("DELETE", "runs", run_id, params={"path": "slow.ipynb"})

    assert status == 202 and reply == {"cancelled": True}
    detail = await wait_for(api, "slow.ipynb", run_id, finished, timeout=120)
    steps = {s["step"]: s for s in detail["steps"]}
    assert detail["run"]["status"] == "cancelled"
    assert steps["first"]["status"] == "succeeded"
    assert steps["wait"]["status"] == "interrupted"
    assert steps["wait"]["ended"] is not None
    deadline = time.monotonic() + 60  # the runner exits (and is reaped) after recording
    while process_alive(runner["runner_pid"], runner["runner_start_time"]):
        assert time.monotonic() < deadline, "the runner outlived its cancelled run"
        await asyncio.sleep(0.1)
    status, reply = await api("DELETE", "runs", run_id, params={"path": "slow.ipynb"})
    assert status == 409 and "cancelled" in reply["message"]


async def test_a_run_index_it_cannot_read_is_said_in_the_stores_words(api, put_nb):
    notebook = put_nb(COUNT, "count.ipynb")
    index = notebook.parent / ".liminal" / "runs.db"
    index.parent.mkdir()
    with sqlite3.connect(index) as db:
        db.execute("PRAGMA user_version = 99")  # as a newer liminal-jupyter would leave it

    status, reply = await api("GET", "runs", params={"path": "count.ipynb"})

    assert status == 500
    assert "newer liminal-jupyter" in reply["message"]
