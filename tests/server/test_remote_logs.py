"""A submitted run's step logs come from its engine's `logs` (server/remote_runs.py); when
the host cannot be asked, the panel gets a one-line note and keeps the last log it read.

The real Airflow deployment of the tests is shared by a whole group and cannot go away in
the middle of a test, so the host here is a stand-in on 127.0.0.1 answering the two
Airflow 3 REST v2 endpoints `AirflowClient.task_instances` and `task_log` call, with the
response shapes Airflow 3 documents (a task instance list; a log as structured records).
A contract test of what our client reads, shut down to play a host that went away.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from liminal_jupyter.runs.store import RunStore
from liminal_jupyter.server import remote_runs

RUN = "/api/v2/dags/chain/dagRuns/liminal__r1/taskInstances"
LOG = [{"timestamp": "2026-12-06T05:00:00Z", "level": "info", "event": "loaded 3 rows"},
       {"timestamp": "2026-12-06T05:00:01Z", "level": "info", "event": "total is 3"}]


class _AirflowLogs(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        path = self.path.split("?")[0]
        if path == RUN:
            body = {"task_instances": [{"task_id": "add", "try_number": 1}], "total_entries": 1}
        elif path == f"{RUN}/add/logs/1":
            body = {"content": LOG, "continuation_token": None}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def airflow_host(monkeypatch):
    monkeypatch.setenv("LIMINAL_AIRFLOW_TOKEN", "t")
    monkeypatch.setattr(remote_runs, "REFRESH_S", 0.0)  # every call asks; timing is not tested
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AirflowLogs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_gone_hosts_step_log_is_a_note_and_the_last_log_read_stays(airflow_host, tmp_path):
    host = f"http://127.0.0.1:{airflow_host.server_address[1]}"
    store = RunStore(tmp_path / ".liminal")
    run_id = store.new_run_id()
    (tmp_path / "chain.ipynb").write_text("{}")
    store.create_run(run_id, tmp_path / "chain.ipynb", "chain", "airflow", {}, ["load", "add"],
                     runner_pid=None, host=host, remote_id="chain/liminal__r1")
    run = store.get_run(run_id)

    steps = [{"step": "load", "status": "waiting", "log_tail": ""},
             {"step": "add", "status": "running", "log_tail": ""}]
    assert remote_runs.log_tails(store, run, steps, 20) is None
    read = "[2026-12-06T05:00:00Z INFO] loaded 3 rows\n[2026-12-06T05:00:01Z INFO] total is 3"
    assert [s["log_tail"] for s in steps] == ["", read]  # a waiting step is not asked

    airflow_host.shutdown()
    airflow_host.server_close()  # the host goes away while the step still runs
    steps = [{"step": "add", "status": "running", "log_tail": ""}]
    note = remote_runs.log_tails(store, run, steps, 20)
    assert note is not None and note.startswith(
        f"airflow host {host} could not be asked for step logs: ")
    assert "\n" not in note
    assert steps[0]["log_tail"] == read
    assert remote_runs.log_tails(store, run, [{"step": "add", "status": "running",
                                               "log_tail": ""}], 1) is not None
