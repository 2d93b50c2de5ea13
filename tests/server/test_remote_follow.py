"""A run submitted to KFP is followed while someone watches it: each GET of the run (the
panel polls it) asks the engine for its state, at most every couple of seconds, so its
steps turn green one by one and the runs ledger (what `liminal-nb runs` shows) agrees.

No Kubeflow cluster can run here: the host is the KFP REST v2beta1 stand-in on 127.0.0.1
(tests/engines/kfp/kfp_standin.py), moving a run through PENDING, RUNNING (one task at a
time) and SUCCEEDED as a contract test of what `kfp.Client` reads, not of a cluster.
"""

from __future__ import annotations

import pytest
from conftest import code

from liminal_jupyter.runs.store import RunStore
from liminal_jupyter.server import remote_runs
from tests.engines.kfp.kfp_standin import KfpStandin

pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

CHAIN = [
    code("n = 3", "parameters"),
    code("rows = list(range(n))", "step:load"),
    code("total = sum(rows)", "step:add"),
    code("report = f'{total}'", "step:report"),
]


@pytest.fixture
def kfp_server(monkeypatch):
    monkeypatch.delenv("KF_PIPELINES_TOKEN", raising=False)
    monkeypatch.setattr(remote_runs, "REFRESH_S", 0.0)  # every GET asks; timing is not tested
    with KfpStandin(task_by_task=True) as server:
        yield server


async def test_a_submitted_run_turns_green_step_by_step_as_the_panel_polls_it(
        api, put_nb, kfp_server, jp_root_dir):
    put_nb(CHAIN, "chain.ipynb")
    status, submitted = await api("POST", "submit", body={"path": "chain.ipynb",
                                                           "host": kfp_server.url})
    assert status == 202, submitted
    seen = []
    for _ in range(12):
        status, detail = await api("GET", "runs", submitted["run_id"],
                                   params={"path": "chain.ipynb"})
        assert status == 200 and detail["remote_note"] is None
        states = {s["step"]: s["status"] for s in detail["steps"]}
        seen.append((detail["run"]["status"], states))
        if detail["run"]["status"] == "succeeded":
            break
    assert detail["engine_url"] == f"{kfp_server.url}/#/runs/details/{submitted['remote_id']}"
    # load ran first, then add, then report: never a later step done before an earlier one
    order = ["load", "add", "report"]
    greens = [sum(states[s] == "succeeded" for s in order) for _, states in seen]
    assert greens == sorted(greens) and greens[-1] == 3 and 0 < len(set(greens)) - 1
    assert any(states.get("add") == "running" for _, states in seen)
    assert all(order[:n] == [s for s in order if states[s] == "succeeded"]
               for n, (_, states) in zip(greens, seen, strict=True))
    # what the panel saw is in the ledger: `liminal-nb runs` says the same
    record = RunStore(jp_root_dir / ".liminal").get_run(submitted["run_id"])
    assert record.status == "succeeded"


async def test_an_unreachable_host_is_a_quiet_note_and_the_last_state_stays(
        api, put_nb, kfp_server, jp_root_dir):
    put_nb(CHAIN, "chain.ipynb")
    status, submitted = await api("POST", "submit", body={"path": "chain.ipynb",
                                                           "host": kfp_server.url})
    assert status == 202, submitted
    kfp_server.__exit__(None, None, None)  # the host goes away
    status, detail = await api("GET", "runs", submitted["run_id"],
                               params={"path": "chain.ipynb"})
    assert status == 200
    assert detail["run"]["status"] == "running"
    assert detail["remote_note"].startswith(f"kfp host {kfp_server.url} could not be asked")
    assert "\n" not in detail["remote_note"]
    status, listed = await api("GET", "runs", params={"path": "chain.ipynb"})
    assert status == 200 and listed["runs"][0]["status"] == "running"
