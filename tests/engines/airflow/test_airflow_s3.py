"""A notebook submitted to the real Airflow 3 deployment with its artifacts and workspace
on object storage (`--artifacts s3://...`), so tasks share data only through the bucket.

The S3-compatible server is moto's server mode (`python -m moto.server`), started on
127.0.0.1 with the deployment, once per session, and stopped with it
(airflow_deployment.py): no real S3 server (MinIO, SeaweedFS, Garage, versitygw,
s3proxy, rclone >= 1.65) installs from Debian's packages or PyPI here. Its address and keys
reach the tasks as AWS_* variables of the Airflow servers, never through the DAG file.

The notebook has the two-branch shape (fetch -> two independent branches -> join) and its
fetch step reads a CSV beside it, so the workspace archive travels through the bucket too;
one DAG run checks both, since each costs tens of seconds on two cores.
"""

from __future__ import annotations

import json
import secrets

import pytest

from liminal_jupyter.cli import main
from liminal_jupyter.runs.store import RunStore
from tests.conftest import code

CELLS = [
    code("import statistics\n\nimport pandas as pd", "imports"),
    code("scale = 2.0", "parameters"),
    code("table = pd.read_csv('data/points.csv')", "step:fetch"),
    # Builtins over columns: a method call on `table` would count as mutating it, and
    # right would then read left's copy (docs/tags.md).
    code("total = float(sum(table['x']) * scale)\nprint(total)", "step:left"),
    code("spread = float(statistics.stdev(table['y']))", "step:right"),
    code("combined = total + spread\ncombined", "step:join"),
    code("combined", "metrics"),
]


def test_two_branches_with_artifacts_and_workspace_on_s3_match_the_local_runner(
        airflow_deployment, write_nb, tmp_path, capsys, monkeypatch):
    import s3fs  # the `s3` extra (the test extra has it)

    for key, value in airflow_deployment.s3_env.items():
        monkeypatch.setenv(key, value)  # this process reads the bucket as the tasks do
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "points.csv").write_text("x,y\n1,2\n3,5\n4,11\n")
    nb = write_nb(CELLS, {"liminal": {"name": "s3-branches"}})
    prefix = f"{airflow_deployment.s3_bucket}/{tmp_path.name}"
    assert main(["submit", str(nb), "--engine", "airflow", "--host", airflow_deployment.url,
                 "--username", airflow_deployment.username,
                 "--password", airflow_deployment.password,
                 "--dags-folder", str(airflow_deployment.dags),
                 "--artifacts", f"s3://{prefix}", "-p", "scale=3.0"]) == 0
    out = capsys.readouterr().out
    run_id = out.split("record: run ", 1)[1].split()[0]
    dag_file = out.split("(file ", 1)[1].split(")")[0]
    source = open(dag_file, encoding="utf-8").read()
    assert f"ARTIFACTS = 's3://{prefix}'" in source
    # Two independent branches between fetch and join, as Airflow task dependencies.
    for edge in ("fetch_task >> left_task", "fetch_task >> right_task",
                 "[left_task, right_task] >> join_task"):
        assert edge in source, source[-600:]
    secret = airflow_deployment.s3_env["AWS_SECRET_ACCESS_KEY"]
    store = RunStore(tmp_path / ".liminal")
    for text in (source, (store.run_dir(run_id) / "airflow.json").read_text()):
        assert secret not in text and "AWS_" not in text

    assert main(["watch", run_id, "--dir", str(tmp_path), "--interval", "1",
                 "--username", airflow_deployment.username,
                 "--password", airflow_deployment.password]) == 0
    watched = capsys.readouterr().out
    assert watched.strip().endswith(f"run liminal__{run_id} succeeded"), watched

    # The bucket holds the workspace archive and every step's folder; no local copy exists.
    fs = s3fs.S3FileSystem()
    stored = fs.find(prefix)
    assert any(p.startswith(f"{prefix}/workspace/") for p in stored), stored
    for step in ("fetch", "left", "right", "join"):
        folder = f"{prefix}/liminal__{run_id}/{step}"
        for name in ("executed.ipynb", "airflow-task.json", "liminal-manifest.json"):
            assert f"{folder}/{name}" in stored, (folder, name, stored)
    assert not (tmp_path / ".liminal" / "airflow").exists()
    state = json.loads(fs.cat(f"{prefix}/liminal__{run_id}/join/airflow-task.json"))
    assert state["state"] == "succeeded"

    # Both branches ran, each once, and the join saw both: equal to the local runner's.
    assert main(["run", "--no-tracking", "--json", "-p", "scale=3.0", str(nb)]) == 0
    local_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    remote = {s.step: s for s in store.steps(run_id)}
    local = {s.step: s for s in store.steps(local_id)}
    assert set(remote) == set(local) == {"fetch", "left", "right", "join"}
    assert store.get_run(run_id).status == "succeeded"
    for name, mine in local.items():
        theirs = remote[name]
        assert theirs.status == "succeeded", name
        assert theirs.metrics == pytest.approx(mine.metrics, abs=1e-12)
        assert set(theirs.outputs) == set(mine.outputs)
    assert remote["join"].metrics["combined"] == pytest.approx(24.0 + 4.5825756949940)

    assert main(["show", run_id, "--dir", str(tmp_path)]) == 0
    assert "combined=" in capsys.readouterr().out


def test_keys_from_an_airflow_connection_reach_a_bucket_the_workers_have_no_keys_for(
        airflow_deployment, write_nb, tmp_path, capsys, monkeypatch):
    """`--artifacts-connection ID`: the tasks take the bucket's endpoint and keys from the
    Airflow connection ID (created here through the REST API, as a platform team would),
    not from their environment. The bucket lives on a second moto server (see the module's
    doc for why moto) that only the connection names: the Airflow servers' AWS_* variables
    point at the first one, so a task that ignored the connection could not find it."""
    import time
    import urllib.request

    import s3fs

    from liminal_jupyter.engines.airflow.rest import AirflowClient, Credentials
    from tests.engines.airflow.airflow_deployment import moto_server, s3_up
    from tests.process_groups import stop_group

    server, endpoint = moto_server(tmp_path / "moto.log")
    try:
        deadline = time.monotonic() + 60
        while not s3_up(endpoint):
            assert server.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "moto.log").read_text()
            time.sleep(0.2)
        key, secret = "connection-key", secrets.token_hex(16)
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": key,
                            "AWS_SECRET_ACCESS_KEY": secret,
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)  # this process (submit, watch) uses the second
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem()
        fs.mkdir("connection-bucket")
        conn_id = f"liminal_s3_{secrets.token_hex(4)}"
        token = AirflowClient(airflow_deployment.url, Credentials(
            airflow_deployment.username, airflow_deployment.password)).token()
        body = {"connection_id": conn_id, "conn_type": "aws", "login": key,
                "password": secret,
                "extra": json.dumps({"endpoint_url": endpoint, "region_name": "us-east-1"})}
        request = urllib.request.Request(
            f"{airflow_deployment.url}/api/v2/connections", method="POST",
            data=json.dumps(body).encode(), headers={"Authorization": f"Bearer {token}",
                                                     "Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).close()

        (tmp_path / "rows.csv").write_text("x\n2\n5\n")
        nb = write_nb([code("import pandas as pd", "imports"),
                       code("rows = pd.read_csv('rows.csv')", "step:fetch"),
                       code("total = float(sum(rows['x']))", "step:total"),
                       code("total", "metrics")], {"liminal": {"name": "s3-connection"}})
        prefix = f"connection-bucket/{tmp_path.name}"
        assert main(["submit", str(nb), "--engine", "airflow",
                     "--host", airflow_deployment.url,
                     "--username", airflow_deployment.username,
                     "--password", airflow_deployment.password,
                     "--dags-folder", str(airflow_deployment.dags),
                     "--artifacts", f"s3://{prefix}",
                     "--artifacts-connection", conn_id]) == 0
        out = capsys.readouterr().out
        run_id = out.split("record: run ", 1)[1].split()[0]
        dag_file = out.split("(file ", 1)[1].split(")")[0]
        source = open(dag_file, encoding="utf-8").read()
        assert f"ARTIFACTS_CONNECTION = {conn_id!r}" in source
        assert secret not in source and key not in source

        assert main(["watch", run_id, "--dir", str(tmp_path), "--interval", "1",
                     "--username", airflow_deployment.username,
                     "--password", airflow_deployment.password]) == 0
        assert capsys.readouterr().out.strip().endswith("succeeded")
        stored = fs.find(prefix)
        for step in ("fetch", "total"):
            assert f"{prefix}/liminal__{run_id}/{step}/executed.ipynb" in stored, stored
        state = json.loads(fs.cat(f"{prefix}/liminal__{run_id}/total/airflow-task.json"))
        assert state["state"] == "succeeded" and state["metrics"] == {"total": 7.0}
    finally:
        stop_group(server)
        s3fs.S3FileSystem.clear_instance_cache()
