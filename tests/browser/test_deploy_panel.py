"""Deploy and Monitor from the panel, in a real JupyterLab driven in Debian's chromium.

The iris example is run from the panel with tracking to a real MLflow server on 127.0.0.1
(the panel's MLflow setting), its registered model is deployed with a click, the serving
URL the panel shows answers a real HTTP request from the test, Stop ends the scoring
server's process group; then Monitor checks a shifted data file and opens the report, and
a model left served is stopped when JupyterLab shuts down.
Screenshots are saved under tests/browser/screenshots/.
"""

from __future__ import annotations

import json
import urllib.request

from process_groups import group_gone

from tests.browser.lab import (
    RUN_TIMEOUT_MS,
    dialogs,
    open_notebook,
    put_example,
    shoot,
    shoot_panel,
)

pytest_plugins = ("tests.browser.browser_setup",)

SERVE_TIMEOUT_MS = 400_000  # resolving the model and starting MLflow's scoring server
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_deploy_a_runs_model_use_its_url_stop_it_and_monitor_new_data(
        mlflow_server, page, tmp_path):  # noqa: F811 (the fixture imported above)
    from mlflow import MlflowClient
    from sklearn.datasets import load_iris

    # Imported here: pytest loads browser_setup as a plugin (its fixtures) first.
    from tests.browser.browser_setup import running_lab

    # The MLflow server is the test session's: other modules register this model too, so
    # this run's version is the next one, not always 1.
    registered = MlflowClient(mlflow_server.url).search_model_versions(
        "name = 'iris-classification'")
    version = str(max((int(v.version) for v in registered), default=0) + 1)
    (tmp_path / "lab").mkdir()
    with running_lab(tmp_path / "lab", ready_route="liminal/status") as lab:
        lab.set_panel_settings({"mlflowTrackingUri": mlflow_server.url})
        path = put_example(lab)
        shifted = load_iris(as_frame=True).data
        shifted.columns = FEATURES
        shifted["petal_length"] += 3.0
        shifted.to_csv(lab.root / "shifted.csv", index=False)
        open_notebook(page, lab, path)
        page.wait_for_selector('.liminal-dag-node[data-step="validate"]')

        page.fill("#liminal-param-n_estimators", "20")
        page.click("button.liminal-run")
        page.wait_for_selector('.liminal-run-detail[data-status="running"]')
        page.wait_for_selector('.liminal-run-detail:not([data-status="running"])',
                               timeout=RUN_TIMEOUT_MS)
        detail = page.locator(".liminal-run-detail")
        assert detail.get_attribute("data-status") == "succeeded", detail.inner_text()

        # The run's registered model appears (once the runner has recorded it), with the
        # alias its validation earned.
        model = page.locator('.liminal-model[data-model="iris-classification"]')
        model.wait_for(timeout=RUN_TIMEOUT_MS)
        assert model.get_attribute("data-version") == version
        assert "champion" in model.locator(".liminal-model-alias").inner_text()

        model.locator("button.liminal-deploy").click()
        assert model.locator("button.liminal-deploy").inner_text() == "Deploying…"
        link = model.locator(".liminal-serving-url")
        link.wait_for(timeout=SERVE_TIMEOUT_MS)
        url = link.get_attribute("href")
        assert url == link.inner_text() and url.startswith("http://127.0.0.1:")
        assert url.endswith("/invocations")
        shoot_panel(page, "model-deployed")

        # The URL the panel shows answers predictions.
        rows = load_iris(as_frame=True).data.iloc[[0, 149]]
        rows.columns = FEATURES
        request = urllib.request.Request(
            url, data=json.dumps({"dataframe_records": rows.to_dict(orient="records")}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            assert [int(p) for p in json.loads(response.read())["predictions"]] == [0, 2]
        [served] = lab.api("liminal/models/served")["served"]
        assert served["invocations_url"] == url

        model.locator("button.liminal-stop-serving").click()
        model.locator("button.liminal-deploy").wait_for()
        assert group_gone(served["pid"]), "the scoring server outlived Stop"
        assert lab.api("liminal/models/served") == {"served": []}
        assert model.locator(".liminal-model-message").inner_text() == "Stopped."

        # Monitor: a data file of the notebook's folder, the drifted feature listed
        # quietly, the report in a main-area tab inside a frame that may run nothing.
        model.locator("input.liminal-monitor-data").fill("shifted.csv")
        model.locator("button.liminal-monitor").click()
        drift = model.locator('.liminal-drift[data-drifted="true"]')
        drift.wait_for(timeout=SERVE_TIMEOUT_MS)
        assert drift.locator("li").evaluate_all("ls => ls.map(l => l.dataset.feature)") == [
            "petal_length"]
        frame = page.locator(".lm-DockPanel .liminal-report-frame")
        frame.wait_for()
        assert frame.get_attribute("sandbox") == ""
        heading = page.frame_locator(".lm-DockPanel .liminal-report-frame").locator("h1")
        assert heading.inner_text() == f"Drift detected: iris-classification version {version}"
        shoot_panel(page, "model-monitored")
        shoot(page, "drift-report")
        assert dialogs(page) == 0

        # A model still served when JupyterLab shuts down (SIGTERM) is stopped with it.
        left = serve(lab, {"name": "iris-classification", "version": version,
                           "tracking_uri": mlflow_server.url})
    assert group_gone(left["pid"]), "a served model outlived the Jupyter server"


def serve(lab, body: dict) -> dict:
    """POST /liminal/models/serve with the token (no XSRF needed then)."""
    request = urllib.request.Request(
        f"{lab.url}liminal/models/serve", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=SERVE_TIMEOUT_MS / 1000) as response:
        return json.loads(response.read())
