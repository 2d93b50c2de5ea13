"""A Jupyter server killed with SIGKILL while it serves a model (issue 20): its scoring
server, in a process group of its own, outlives it; the next server start (same Jupyter
runtime dir) finds it through its record and stops it, so nothing is left behind.

Real servers throughout: the iris example trained against the session's MLflow server
(the `trained` fixture of test_deploy_routes.py), two Jupyter servers one after the other
(tests/server/live_server.py), MLflow's scoring server started by POST /liminal/models/serve.
"""

from __future__ import annotations

import json
import os
import signal

from liminal_jupyter.deploy.serve import answers, port_in_use
from tests.process_groups import group_gone
from tests.server.live_server import live_server
from tests.server.test_deploy_routes import MODEL, trained  # noqa: F401 (the fixture)


def test_a_model_server_left_by_a_killed_jupyter_server_is_stopped_by_the_next_start(
    trained, tmp_path  # noqa: F811
):
    body = json.dumps({"name": MODEL, "alias": "champion",
                       "tracking_uri": trained["uri"]}).encode()
    scoring_pid = None
    try:
        with live_server(tmp_path, trained["root"]) as first:
            reply = first.request("POST", "/liminal/models/serve", body)
            assert reply.status == 201, reply.text
            served = reply.json()
            scoring_pid = served["pid"]
            first.close()
            os.kill(first.pid, signal.SIGKILL)  # no cleanup runs
            os.waitpid(first.pid, 0)
        assert answers(served["url"] + "/ping"), "the orphan should still serve (the fault)"
        records = list((tmp_path / "runtime" / "liminal-served").glob("*.json"))
        assert len(records) == 1

        with live_server(tmp_path, trained["root"]) as second:
            assert group_gone(scoring_pid, timeout=30), "the orphaned model server still runs"
            assert not port_in_use("127.0.0.1", served["port"])
            assert list((tmp_path / "runtime" / "liminal-served").glob("*.json")) == []
            log = second.log.read_text()
            assert "stopped a model server left behind" in log and str(scoring_pid) in log
            assert second.request("GET", "/liminal/models/served").json() == {"served": []}
    finally:
        if scoring_pid is not None and not group_gone(scoring_pid, timeout=0.5):
            os.killpg(scoring_pid, signal.SIGKILL)
