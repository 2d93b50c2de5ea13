"""`liminal-nb submit` and `watch` against a stand-in KFP API server.

No Kubernetes cluster can run here, so these are contract tests of the documented KFP REST
v2beta1 API that `kfp.Client` speaks: `tests/kfp/kfp_standin.py` serves exactly the
endpoints kfp.Client calls for these flows on 127.0.0.1, and the tests assert on what it
received (the pipeline spec, the runtime parameters) and on what the commands print,
return and record in the run store. Missing or refused credentials exit 1 (a failure to
talk to the cluster, like an unreachable host), with the credentials message; an unknown
run id exits 2 (bad input).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import time

import pytest

from liminal_jupyter.cli import main as cli_main
from liminal_jupyter.engines.kfp.submit_commands import add_submit_commands
from liminal_jupyter.runs.store import RunStore
from tests.conftest import EXAMPLES
from tests.engines.kfp.kfp_standin import KfpStandin

IRIS_STEPS = {"fetch", "prepare", "train", "evaluate", "validate"}


def liminal(*argv: str) -> int:
    """`liminal-nb submit|watch ...` as the CLI builds them: KFP's parsers, with the CLI's
    engine dispatch (submit goes through Engine.submit)."""
    from liminal_jupyter.cli_submit import extend_remote_commands

    parser = argparse.ArgumentParser(prog="liminal-nb")
    commands = parser.add_subparsers(dest="command")
    add_submit_commands(commands)
    extend_remote_commands(commands)
    args = parser.parse_args([str(a) for a in argv])
    return args.handler(args)


@pytest.fixture
def iris(tmp_path):
    path = tmp_path / "iris_classification.ipynb"
    shutil.copy(EXAMPLES / "iris_classification.ipynb", path)
    return path


@pytest.fixture
def kfp_server(monkeypatch):
    monkeypatch.delenv("KF_PIPELINES_TOKEN", raising=False)
    monkeypatch.setenv("HOME", "/nonexistent-home")  # no ~/.config/kfp/context.json
    with KfpStandin() as server:
        yield server


def remote_id_of(out: str) -> str:
    return out.split("submitted KFP run ", 1)[1].split()[0]


def test_submit_then_watch_records_the_run(iris, kfp_server, capsys):
    assert liminal("submit", iris, "--host", kfp_server.url, "-p", "n_estimators=20") == 0
    out = capsys.readouterr().out
    remote_id = remote_id_of(out)
    assert f"{kfp_server.url}/#/runs/details/{remote_id}" in out
    assert "created experiment" in out

    [body] = kfp_server.created_runs()
    assert body["runtime_config"]["parameters"] == {"n_estimators": 20}
    tasks = body["pipeline_spec"]["root"]["dag"]["tasks"]
    assert {t["taskInfo"]["name"] for t in tasks.values()} == IRIS_STEPS
    assert "n_estimators" in body["pipeline_spec"]["root"]["inputDefinitions"]["parameters"]
    experiment_id = body["experiment_id"]
    assert kfp_server.experiments[experiment_id]["display_name"]

    store = RunStore(iris.parent / ".liminal")
    [record] = store.list_runs()
    assert (record.backend, record.host, record.remote_id, record.status) == (
        "kfp", kfp_server.url, remote_id, "running")
    assert record.parameters == {"n_estimators": 20}
    assert record.runner_pid is None

    assert cli_main(["runs", str(iris.parent)]) == 0
    listing = capsys.readouterr().out
    assert record.run_id in listing and "kfp" in listing

    assert liminal("watch", remote_id, "--host", kfp_server.url, "--dir", iris.parent,
                   "--interval", "0.01") == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines()[:3]] == [
        "PENDING", "RUNNING", "SUCCEEDED"]
    assert f"run {remote_id} succeeded" in out
    record = store.get_run(record.run_id)
    assert record.status == "succeeded" and record.ended
    assert {s.status for s in store.steps(record.run_id)} == {"succeeded"}


def test_a_pipeline_file_is_submitted_as_one_pipeline_of_its_notebooks(tmp_path, kfp_server,
                                                                       capsys):
    folder = tmp_path / "wine_pipeline"
    shutil.copytree(EXAMPLES / "wine_pipeline", folder)
    assert liminal("submit", folder / "liminal.yml", "--host", kfp_server.url,
                   "-p", "C=0.3") == 0
    remote_id = remote_id_of(capsys.readouterr().out)
    [body] = kfp_server.created_runs()
    assert body["runtime_config"]["parameters"] == {"C": 0.3}
    tasks = body["pipeline_spec"]["root"]["dag"]["tasks"]
    assert {t["taskInfo"]["name"] for t in tasks.values()} == {
        "load", "clean", "split", "train", "evaluate"}
    [record] = RunStore(folder / ".liminal").list_runs()
    assert (record.backend, record.remote_id) == ("kfp", remote_id)
    assert record.notebook.endswith("liminal.yml")


def test_existing_experiment_is_reused_and_missing_one_can_be_refused(iris, kfp_server,
                                                                       capsys):
    experiment_id = kfp_server.add_experiment("nightly")
    assert liminal("submit", iris, "--host", kfp_server.url, "--experiment", "nightly",
                   "--run-name", "iris nightly") == 0
    out = capsys.readouterr().out
    assert "created experiment" not in out
    [body] = kfp_server.created_runs()
    assert (body["experiment_id"], body["display_name"]) == (experiment_id, "iris nightly")
    assert body["runtime_config"].get("parameters", {}) == {}

    assert liminal("submit", iris, "--host", kfp_server.url, "--experiment", "nope",
                   "--no-create-experiment") == 2
    err = capsys.readouterr().err
    assert "has no experiment 'nope'" in err and "Traceback" not in err
    assert len(kfp_server.created_runs()) == 1


def test_watch_a_failing_run_exits_1_with_its_error(iris, kfp_server, capsys):
    kfp_server.fail_runs.add("doomed")
    assert liminal("submit", iris, "--host", kfp_server.url, "--run-name", "doomed") == 0
    remote_id = remote_id_of(capsys.readouterr().out)
    # --host comes from the run store record
    assert liminal("watch", remote_id, "--dir", iris.parent, "--interval", "0.01") == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out
    assert f"run {remote_id} failed (FAILED): {kfp_server.failure_message}" in captured.err
    [record] = RunStore(iris.parent / ".liminal").list_runs()
    assert record.status == "failed" and record.message == kfp_server.failure_message


def test_missing_token_is_a_clear_credentials_error(iris, kfp_server, capsys, monkeypatch):
    kfp_server.token = "s3cret"
    assert liminal("submit", iris, "--host", kfp_server.url) == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"error: KFP at {kfp_server.url} refused the credentials (HTTP "
                           "401): pass --token or set KF_PIPELINES_TOKEN")
    assert kfp_server.created_runs() == []

    monkeypatch.setenv("KF_PIPELINES_TOKEN", "s3cret")
    assert liminal("submit", iris, "--host", kfp_server.url) == 0
    assert kfp_server.requests[-1].headers["authorization"] == "Bearer s3cret"
    monkeypatch.delenv("KF_PIPELINES_TOKEN")
    remote_id = remote_id_of(capsys.readouterr().out)
    assert liminal("watch", remote_id, "--host", kfp_server.url, "--token", "s3cret",
                   "--interval", "0.01") == 0


def test_unreachable_host_fails_fast_without_traceback(iris, tmp_path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends
    host = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    assert liminal("submit", iris, "--host", host) == 1
    assert liminal("watch", "some-run", "--host", host) == 1
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"error: cannot reach KFP at {host}: ")
                                   for line in lines), err
    assert "Connection refused" in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / ".liminal" / "runs.db").exists()


def test_unknown_run_id_is_bad_input(kfp_server, tmp_path, capsys):
    assert liminal("watch", "no-such-run", "--host", kfp_server.url, "--dir", tmp_path) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"error: KFP at {kfp_server.url} has no run 'no-such-run': check "
                           "the run id (`liminal-nb runs` lists submitted runs)")
    assert liminal("watch", "no-such-run", "--dir", tmp_path) == 2
    assert "pass --host URL" in capsys.readouterr().err


def test_bad_parameter_is_refused_before_contacting_kfp(iris, kfp_server, capsys):
    assert liminal("submit", iris, "--host", kfp_server.url, "-p", "n_estimators=many") == 2
    assert "n_estimators" in capsys.readouterr().err
    assert kfp_server.requests == []


def test_requests_follow_the_v2beta1_contract(iris, kfp_server, capsys):
    assert liminal("submit", iris, "--host", kfp_server.url) == 0
    assert kfp_server.paths() == [
        ("GET", "/apis/v2beta1/healthz"),
        ("GET", "/apis/v2beta1/experiments"),
        ("GET", "/apis/v2beta1/experiments"),  # kfp's create_experiment looks again
        ("POST", "/apis/v2beta1/experiments"),
        ("POST", "/apis/v2beta1/runs"),
    ]
    lookup = json.loads(kfp_server.requests[1].query["filter"][0])
    assert lookup["predicates"][0]["key"] == "display_name"


def test_ctrl_c_stops_watching_not_the_run(iris, kfp_server, capsys, monkeypatch):
    assert liminal("submit", iris, "--host", kfp_server.url) == 0
    remote_id = remote_id_of(capsys.readouterr().out)

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("liminal_jupyter.engines.kfp.submit.time.sleep", interrupt)
    assert liminal("watch", remote_id, "--dir", iris.parent) == 130
    assert "stopped watching; the run goes on" in capsys.readouterr().err
    [record] = RunStore(iris.parent / ".liminal").list_runs()
    assert record.status == "running"
