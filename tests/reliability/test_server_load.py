"""The server under load, the suite's profile: 20 clients polling for about 20 s while three
runs progress and one is cancelled (tests/reliability/server_load.py says what is checked;
stress/server_load.py is the 2-minute profile with the latency figures)."""

from __future__ import annotations

from tests.reliability.server_load import drive, outcome_problems, runners_left
from tests.server.live_server import live_server


def test_twenty_clients_polling_while_runs_progress_and_one_is_cancelled(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with live_server(tmp_path, root) as server:
        load = drive(server, seconds=20, pause=4.0, clients=20, cancel_after=4.0)
        left = runners_left(load)

    assert load.failures == [], load.failures[:10]
    assert outcome_problems(load) == []
    assert len(load.final) == 4
    assert left == []
    # the runs were in progress while polled: they took most of the window
    assert load.requests["list"] > 100 and load.requests["detail"] > 100, load.summary()
    print(load.summary())
