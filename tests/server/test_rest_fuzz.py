"""Request fuzzing of the REST API (issue 20): every route of docs/rest-api.md, given bad
bodies, query strings and path parts, answers a 4xx with a JSON message (or its usual
2xx), never a 5xx, never a traceback.

One real Jupyter server with the extension for the whole module (tests/server/
live_server.py), its root holding notebooks, files of other kinds, a hidden notebook, a
symlink out of the root, a drift report and one real finished run of `nb.ipynb`. The
generators are in tests/server/rest_strategies.py; requests to routes that can start work
are invalid by construction, so nothing is started. A quick, derandomized profile (the same
requests on every run); the long one is stress/fuzz_rest.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liminal_jupyter.runs.launch import run_store_for
from tests.server.live_server import LiveServer, live_server
from tests.server.rest_strategies import build_root, call_to, check_reply

ROUTES = ["pipeline", "runs-get", "runs-post", "run-get", "run-delete", "step-notebook",
          "report", "compile", "submit", "status", "serve", "served", "served-delete",
          "monitor", "drift-report", "elsewhere", "method"]
QUICK = settings(max_examples=20, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> Iterator[tuple[LiveServer, str]]:
    """The server, and the id of the finished run of nb.ipynb in its root (the run and
    the server's start overlap: the module's setup is most of its time)."""
    base = tmp_path_factory.mktemp("rest-fuzz")
    root = base / "root"
    root.mkdir()
    build_root(root, base / "outside")
    runner = start_a_run(root)
    with live_server(base, root) as server:
        run_id = finish_the_run(root, runner)
        yield server, run_id
    store = run_store_for(root / "nb.ipynb")
    recorded = [run.run_id for run in store.list_runs(limit=1000)]
    folders = sorted(p.name for p in store.run_dir(run_id).parent.iterdir())
    assert recorded == [run_id] and folders == [run_id], f"the fuzzer started runs: {folders}"


def start_a_run(root: Path) -> subprocess.Popen:
    """A real run of nb.ipynb (no tracking), as a user starts it from a terminal."""
    return subprocess.Popen([sys.executable, "-m", "liminal_jupyter", "run", "nb.ipynb",
                             "--no-tracking"], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish_the_run(root: Path, runner: subprocess.Popen) -> str:
    """Waits for the run started by `start_a_run` to succeed; its id."""
    output, _ = runner.communicate(timeout=300)
    assert runner.returncode == 0, output
    [run] = run_store_for(root / "nb.ipynb").list_runs(limit=1)
    return run.run_id


@pytest.mark.parametrize("route", ROUTES)
@QUICK
@given(data=st.data())
def test_every_route_answers_bad_requests_with_a_4xx_and_a_json_message(fuzzed, route, data):
    server, run_id = fuzzed
    call = data.draw(call_to(route, run_id), label="call")
    reply = server.request(call.method, call.target, call.body)
    check_reply(call, reply.status, reply.headers, reply.body)
