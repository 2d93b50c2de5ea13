"""Deploy and Monitor over REST: a run's registered models, served by MLflow's scoring server
as a child process group, answering real HTTP, stopped by DELETE or by the server's end;
drift checked against the model's training data, with its report served sandboxed.

Real components throughout: the iris example run by `liminal-nb run` with tracking to a
real MLflow server on 127.0.0.1 (tests/mlflow_servers.py), a real Jupyter server with the
extension (pytest-jupyter), real scoring servers, stopped by the tests (process groups).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from process_groups import group_gone

from liminal_jupyter.deploy.serve import port_in_use
from liminal_jupyter.runs.launch import run_store_for
from tests.conftest import EXAMPLES

# pytest-jupyter's server fixtures, then ours (jp_server_config with the extension on).
pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))
NOTEBOOK = "iris_classification.ipynb"
MODEL = "iris-classification"  # the pipeline name (from the file name): `model:clf` registers so
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def trained(mlflow_server, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    """The iris example, run once with tracking to the MLflow server: a new version
    registered, validated, alias champion. Its folder is the Jupyter server's root in these
    tests. The server is the test session's, shared with other modules that register the
    same model, so the version is whichever this run made (the newest), not always 1."""
    root = tmp_path_factory.mktemp("deploy-root")
    shutil.copy(EXAMPLES / "iris_classification.ipynb", root / NOTEBOOK)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run([LIMINAL_NB, "run", NOTEBOOK, "--tracking-uri", mlflow_server.url],
                          capture_output=True, text=True, cwd=root, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    [run] = run_store_for(root / NOTEBOOK).list_runs(limit=1)
    from mlflow import MlflowClient

    versions = MlflowClient(mlflow_server.url).search_model_versions(f"name = '{MODEL}'")
    version = str(max(int(v.version) for v in versions))
    return {"root": root, "uri": mlflow_server.url, "run_id": run.run_id, "version": version}


@pytest.fixture
def jp_root_dir(trained):
    return trained["root"]


def iris_frame(shift: float = 0.0):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).data
    frame.columns = FEATURES
    frame["petal_length"] += shift
    return frame


def predict(url: str, rows: list[dict]) -> list:
    request = urllib.request.Request(url, data=json.dumps({"dataframe_records": rows}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())["predictions"]


async def test_a_run_detail_lists_the_models_the_run_registered(api, trained):
    status, detail = await api("GET", "runs", trained["run_id"], params={"path": NOTEBOOK})

    assert status == 200, detail
    assert detail["models_pending"] is False
    assert detail["models"] == [{
        "name": MODEL, "version": trained["version"],
        "uri": f"models:/{MODEL}/{trained['version']}", "step": "train",
        "variable": "clf", "aliases": ["champion"], "validation": "passed",
        "tracking_uri": trained["uri"]}]


async def test_a_served_model_answers_http_and_delete_stops_its_process_group(api, trained):
    status, served = await api("POST", "models", "serve", body={
        "name": MODEL, "version": trained["version"], "tracking_uri": trained["uri"]})

    assert status == 201, served
    assert (served["name"], served["version"]) == (MODEL, trained["version"])
    assert served["url"] == f"http://127.0.0.1:{served['port']}"
    assert served["invocations_url"] == served["url"] + "/invocations"
    rows = iris_frame().iloc[[0, 75, 149]].to_dict(orient="records")
    assert [int(p) for p in predict(served["invocations_url"], rows)] == [0, 1, 2]

    status, listed = await api("GET", "models", "served")
    assert status == 200
    assert [(s["id"], s["answers"]) for s in listed["served"]] == [(served["id"], True)]

    status, stopped = await api("DELETE", "models", "served", served["id"])
    assert status == 200 and stopped["stopped"] is True
    assert group_gone(served["pid"]), "the scoring server's process group outlived DELETE"
    assert not port_in_use("127.0.0.1", served["port"])
    assert (await api("GET", "models", "served"))[1] == {"served": []}
    assert (await api("DELETE", "models", "served", served["id"]))[0] == 404


async def test_a_port_in_use_is_409_and_an_unknown_model_404(api, trained):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, reply = await api("POST", "models", "serve", body={
            "name": MODEL, "tracking_uri": trained["uri"], "port": port})
    assert status == 409
    assert f"port {port} on 127.0.0.1 is already in use" in reply["message"]

    status, reply = await api("POST", "models", "serve", body={
        "name": "tulips", "path": NOTEBOOK, "tracking_uri": trained["uri"]})
    assert status == 404
    assert "no registered model 'tulips'" in reply["message"]
    assert MODEL in reply["message"]  # it names what is registered

    status, reply = await api("POST", "models", "serve", body={
        "name": MODEL, "version": "1", "alias": "champion", "tracking_uri": trained["uri"]})
    assert status == 400 and "not both" in reply["message"]


async def test_served_models_are_stopped_when_the_jupyter_server_shuts_down(
        api, trained, jp_serverapp):
    # The champion, found through the notebook's runs (no version given).
    status, served = await api("POST", "models", "serve", body={
        "name": MODEL, "alias": "champion", "tracking_uri": trained["uri"]})
    assert status == 201, served
    assert served["version"] == trained["version"]

    await jp_serverapp.cleanup_extensions()  # what the server's shutdown awaits

    assert group_gone(served["pid"]), "a served model outlived the Jupyter server"


@pytest.mark.parametrize(("method", "route"), [
    ("POST", "models/serve"), ("GET", "models/served"), ("DELETE", "models/served/abcd"),
    ("POST", "models/monitor"), ("GET", "models/report")])
async def test_every_model_route_refuses_a_request_without_a_token(api, method, route):
    body = {"name": MODEL} if method == "POST" else None
    status, _ = await api(method, *route.split("/"), body=body,
                          headers={"Authorization": ""})
    assert status == 403


async def test_monitor_finds_drift_in_shifted_data_and_none_in_training_like_data(
        api, trained):
    root = trained["root"]
    (root / "data").mkdir(exist_ok=True)
    iris_frame().to_csv(root / "data" / "same.csv", index=False)
    iris_frame(shift=3.0).to_csv(root / "data" / "shifted.csv", index=False)
    ask = {"name": MODEL, "path": NOTEBOOK, "tracking_uri": trained["uri"]}

    status, calm = await api("POST", "models", "monitor", body={**ask, "data": "data/same.csv"})
    assert status == 200, calm
    assert calm["drifted"] == [] and calm["version"] == trained["version"] and calm["rows"] == 150
    assert calm["threshold"] == 0.2  # the default: the notebook sets none
    assert {f["feature"] for f in calm["features"]} == set(FEATURES)
    assert all(f["psi"] < 0.2 for f in calm["features"])

    status, shifted = await api("POST", "models", "monitor", body={
        **ask, "data": "data/shifted.csv", "threshold": 0.25})
    assert status == 200, shifted
    assert shifted["drifted"] == ["petal_length"]
    assert shifted["threshold"] == 0.25
    assert shifted["summary"].startswith("drift in 1 of 4 features")
    assert shifted["report"].startswith("data/.liminal/reports/drift-")
    assert (root / shifted["report"]).is_file()

    # The report, through its route: HTML that can show but never run anything.
    status, page = await api("GET", "models", "report", params={"path": shifted["report"]})
    assert status == 200
    assert f"<h1>Drift detected: iris-classification version {trained['version']}</h1>" in page
    assert shifted["report_url"].endswith("liminal/models/report?path=" + shifted["report"])


async def test_the_report_route_has_a_sandbox_policy(jp_fetch, trained):
    reports = trained["root"] / ".liminal" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "drift-x.html").write_text("<h1>x</h1><script>alert(1)</script>")

    response = await jp_fetch("liminal", "models", "report",
                              params={"path": ".liminal/reports/drift-x.html"})

    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "script-src" not in policy
    assert "default-src 'none'" in policy
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("path", "status"), [
    ("../outside/.liminal/reports/r.html", 403),
    ("/etc/passwd.html", 403),
    (".liminal/reports/../../iris_classification.ipynb", 403),
    ("iris_classification.ipynb", 400),
    ("page.html", 404),  # an HTML file, but not a drift report
    (".liminal/reports/none.html", 404),
])
async def test_the_report_route_serves_drift_reports_only(api, trained, path, status):
    (trained["root"] / "page.html").write_text("<p>not a report</p>")
    got, reply = await api("GET", "models", "report", params={"path": path})
    assert got == status, reply


async def test_monitor_data_must_be_a_data_file_inside_the_root(api, trained, tmp_path):
    outside = tmp_path / "outside.csv"
    iris_frame().to_csv(outside, index=False)
    (trained["root"] / "link.csv").unlink(missing_ok=True)
    (trained["root"] / "link.csv").symlink_to(outside)
    ask = {"name": MODEL, "tracking_uri": trained["uri"]}

    for data, status in [("../outside.csv", 403), (str(outside), 403), ("link.csv", 403),
                         ("iris_classification.ipynb", 400), ("missing.csv", 404)]:
        got, reply = await api("POST", "models", "monitor", body={**ask, "data": data})
        assert got == status, (data, reply)


def test_the_terminal_shows_the_models_a_run_registered(trained):
    done = subprocess.run([LIMINAL_NB, "show", trained["run_id"]], capture_output=True,
                          text=True, cwd=trained["root"], timeout=120)
    assert done.returncode == 0, done.stderr
    assert (f"model: {MODEL} version {trained['version']} (champion), from clf of step train"
            in done.stdout)
