"""A partial run over REST (the panel's "Run from here" / "Run to here"): refused with the
runner's own message when no earlier run has what it needs, then run for real."""

from __future__ import annotations

from conftest import code

from tests.server.polling import finished, wait_for

pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

CHAIN = [
    code("rows = [1, 2, 3]", "step:load"),
    code("total = sum(rows)", "step:add"),
]


async def test_a_partial_run_is_refused_clearly_then_runs_what_it_selects(api, put_nb):
    put_nb(CHAIN, "chain.ipynb")

    status, reply = await api("POST", "runs", body={
        "path": "chain.ipynb", "tracking": False, "steps": {"from": "add"}})
    assert status == 400, reply
    assert "load would not run, but add read(s) from them" in reply["message"]

    status, reply = await api("POST", "runs", body={
        "path": "chain.ipynb", "tracking": False, "steps": {"only": ["add; rm"]}})
    assert status == 400 and "must be step names" in reply["message"]

    status, reply = await api("POST", "runs", body={
        "path": "chain.ipynb", "tracking": False, "steps": {"to": "load"}})
    assert status == 202, reply
    detail = await wait_for(api, "chain.ipynb", reply["run_id"], finished)
    assert {s["step"]: s["status"] for s in detail["steps"]} == {"load": "succeeded",
                                                                "add": "skipped"}


async def test_a_partial_run_of_a_pipeline_file_takes_qualified_step_names(api, put_nb,
                                                                          jp_root_dir):
    # Both notebooks name their step `clean`: the pipeline calls them a.clean and b.clean.
    put_nb([code("x = 1", "step:clean")], "q/a.ipynb")
    put_nb([code("y = x + 1", "step:clean")], "q/b.ipynb")
    (jp_root_dir / "q" / "liminal.yml").write_text("name: q\nnotebooks: [a.ipynb, b.ipynb]\n")

    status, reply = await api("POST", "runs", body={
        "path": "q/liminal.yml", "tracking": False, "steps": {"to": "a.clean"}})
    assert status == 202, reply
    detail = await wait_for(api, "q/liminal.yml", reply["run_id"], finished)
    assert {s["step"]: s["status"] for s in detail["steps"]} == {"a.clean": "succeeded",
                                                                "b.clean": "skipped"}

    status, reply = await api("POST", "runs", body={
        "path": "q/liminal.yml", "tracking": False, "steps": {"from": "a..clean"}})
    assert status == 400 and "must be step names" in reply["message"]
