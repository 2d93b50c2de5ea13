"""Register, promote, serve, score: the Deploy phase against a real MLflow server.

The MLflow tracking server runs on 127.0.0.1 (mlflow_servers.py); models are served by
MLflow's own scoring server and answer real HTTP requests; every server is stopped by the
test that started it, with its whole process group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import code, notebook_json
from mlflow_servers import free_port

from liminal_jupyter.cli import main
from liminal_jupyter.deploy.serve import port_in_use

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))

FLOWERS = [
    code("from sklearn.datasets import load_iris\n"
         "from sklearn.linear_model import LogisticRegression", "imports"),
    code("min_accuracy = 0.5", "parameters"),
    code("data = load_iris(as_frame=True)\nX = data.data\ny = data.target", "step:fetch"),
    code("clf = LogisticRegression(max_iter=1000).fit(X, y)", "step:train", "model:clf"),
    code("accuracy = float(clf.score(X, y))", "step:evaluate"),
    code("assert accuracy >= min_accuracy, 'not good enough'\nvalidated = True",
         "step:validate"),
    code("accuracy", "metrics"),
]
METADATA = {"liminal": {"name": "flowers", "thresholds": {"accuracy": 0.9}}}
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = [dict(zip(COLUMNS, values, strict=True))
        for values in ([5.1, 3.5, 1.4, 0.2], [6.0, 2.7, 5.1, 1.6], [6.7, 3.0, 5.2, 2.3])]


def expected_predictions() -> list[int]:
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris(as_frame=True)
    clf = LogisticRegression(max_iter=1000).fit(data.data, data.target)
    return [int(p) for p in clf.predict(pd.DataFrame(ROWS))]


@pytest.fixture(scope="module")
def flowers(mlflow_server, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    """Two runs of the flowers notebook: the first passes validation, the second fails it."""
    folder = tmp_path_factory.mktemp("flowers")
    notebook = folder / "flowers.ipynb"
    notebook.write_text(json.dumps(notebook_json(FLOWERS, METADATA)))
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url}
    first = subprocess.run([LIMINAL_NB, "run", str(notebook)], capture_output=True,
                           text=True, env=env, cwd=folder)
    assert first.returncode == 0, first.stdout + first.stderr
    second = subprocess.run([LIMINAL_NB, "run", str(notebook), "-p", "min_accuracy=0.999",
                             "--no-cache"], capture_output=True, text=True, env=env, cwd=folder)
    assert second.returncode == 1, second.stdout + second.stderr
    return {"folder": folder, "uri": mlflow_server.url, "first": first, "second": second}


def test_a_validated_run_registers_its_model_and_gets_the_alias(flowers):
    from mlflow import MlflowClient

    client = MlflowClient(flowers["uri"])
    versions = {v.version: v for v in client.search_model_versions("name='flowers'")}
    assert sorted(versions) == ["1", "2"]  # each run registers, under the pipeline's name
    assert client.get_model_version_by_alias("flowers", "champion").version == "1"
    assert versions["1"].tags["liminal.validation"] == "passed"
    assert "validate step 'validate' failed" in versions["2"].tags["liminal.validation"]
    assert "alias 'champion' set" in flowers["first"].stdout + flowers["first"].stderr
    assert "alias 'champion' not set" in flowers["second"].stdout + flowers["second"].stderr


def test_deploy_serves_the_champion_and_it_answers_http(flowers):
    port = free_port()
    server = subprocess.Popen(
        [LIMINAL_NB, "deploy", "flowers", "--dir", str(flowers["folder"]), "--tracking-uri",
         flowers["uri"], "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = server.stdout.readline()  # printed once the server answers
        assert line.startswith("serving flowers version 1 at "), line + server.stderr.read()
        url = line.split(" at ")[1].split()[0]
        assert url == f"http://127.0.0.1:{port}/invocations"
        request = urllib.request.Request(
            url, data=json.dumps({"dataframe_records": ROWS}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert [int(p) for p in answer["predictions"]] == expected_predictions()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the CLI stops the scoring server it started
        server.wait(timeout=60)
    deadline = time.monotonic() + 30
    while port_in_use("127.0.0.1", port):
        assert time.monotonic() < deadline, "the scoring server outlived `liminal-nb deploy`"
        time.sleep(0.5)


def test_a_port_in_use_is_a_clear_error(flowers, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["deploy", "flowers", "--dir", str(flowers["folder"]),
                       "--tracking-uri", flowers["uri"], "--port", str(port)])
    assert status == 2
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err


def test_predict_scores_a_csv_with_a_chosen_version(flowers, tmp_path, capsys):
    import pandas as pd

    rows = tmp_path / "rows.csv"
    pd.DataFrame(ROWS).to_csv(rows, index=False)
    status = main(["predict", "flowers", str(rows), "--version", "2", "--dir",
                   str(flowers["folder"]), "--tracking-uri", flowers["uri"]])
    out, err = capsys.readouterr()
    assert status == 0, err
    scored = pd.read_csv(__import__("io").StringIO(out))
    assert list(scored.columns) == [*COLUMNS, "prediction"]
    assert scored["prediction"].tolist() == expected_predictions()


def test_unknown_models_and_versions_say_what_exists(flowers, tmp_path, capsys):
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(ROWS))
    where = ["--dir", str(flowers["folder"]), "--tracking-uri", flowers["uri"]]
    assert main(["predict", "tulips", str(rows), *where]) == 2
    assert "no registered model 'tulips'" in capsys.readouterr().err
    assert main(["predict", "flowers", str(rows), "--version", "9", *where]) == 2
    assert "has no version 9; its versions: 1, 2" in capsys.readouterr().err


def test_kserve_manifest_names_the_model_and_its_storage(flowers, tmp_path, capsys):
    output = tmp_path / "isvc.yaml"
    status = main(["deploy", "flowers", "--kserve", "-o", str(output), "--dir",
                   str(flowers["folder"]), "--tracking-uri", flowers["uri"],
                   "--storage-uri", "s3://models/flowers/1"])
    assert status == 0, capsys.readouterr().err
    manifest = yaml.safe_load(output.read_text())
    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1"
    assert manifest["kind"] == "InferenceService"
    assert manifest["metadata"]["name"] == "flowers-1"
    model = manifest["spec"]["predictor"]["model"]
    assert model == {"modelFormat": {"name": "mlflow"}, "protocolVersion": "v2",
                     "storageUri": "s3://models/flowers/1"}


def iris_rows(shift: float = 0.0):
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True).data.copy()
    data["petal length (cm)"] += shift
    return data


def test_monitor_finds_no_drift_in_the_training_data_and_logs_the_figures(flowers, tmp_path,
                                                                          capsys):
    from mlflow import MlflowClient

    rows, report = tmp_path / "same.csv", tmp_path / "report.html"
    iris_rows().to_csv(rows, index=False)
    status = main(["monitor", "flowers", str(rows), "--dir", str(flowers["folder"]),
                   "--tracking-uri", flowers["uri"], "--report", str(report)])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert out.startswith("no drift in flowers version 1's 4 features over 150 rows")
    page = report.read_text()
    assert "<h1>No drift: flowers version 1</h1>" in page and page.count("<svg") == 4
    run_id = out.rsplit("MLflow run ", 1)[1].strip()
    run = MlflowClient(flowers["uri"]).get_run(run_id)
    assert run.data.tags["liminal.drift"] == "none"
    assert run.data.metrics["max_psi"] < 0.2 and run.data.metrics["rows"] == 150
    assert "psi.petal length _cm_" in run.data.metrics  # MLflow allows no parentheses


def test_monitor_fails_on_drift_and_names_the_feature(flowers, tmp_path, capsys):
    rows = tmp_path / "shifted.csv"
    iris_rows(shift=3.0).to_csv(rows, index=False)
    status = main(["monitor", "flowers", str(rows), "--dir", str(flowers["folder"]),
                   "--tracking-uri", flowers["uri"], "--report", str(tmp_path / "r.html")])
    out, _ = capsys.readouterr()
    assert status == 1
    assert "drift in 1 of 4 features of flowers version 1" in out
    assert "petal length (cm) (PSI" in out.splitlines()[0]


SCORING = [
    code("import pandas as pd\nfrom sklearn.datasets import load_iris\n"
         "from liminal_jupyter.deploy import load_model, check_drift", "imports"),
    code("shift = 0.0", "parameters"),
    code("rows = load_iris(as_frame=True).data\n"
         "rows['petal length (cm)'] = rows['petal length (cm)'] + shift", "step:fetch"),
    code("model = load_model('flowers')\npredicted = int(len(model.predict(rows)))",
         "step:score", "phase:inference"),
    code("check_drift('flowers', rows)\nchecked = True", "step:watch", "phase:monitor"),
    code("predicted", "metrics"),
]


def test_a_notebook_scores_with_the_registered_model_and_its_monitor_step_fails_on_drift(
        flowers, tmp_path):
    notebook = tmp_path / "scoring.ipynb"
    notebook.write_text(json.dumps(notebook_json(SCORING)))
    # The runner hands its tracking store to the steps (MLFLOW_TRACKING_URI in the kernels).
    base = [LIMINAL_NB, "run", str(notebook), "--tracking-uri", flowers["uri"], "--no-cache"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    calm = subprocess.run(base, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert "predicted=150" in calm.stdout
    drifted = subprocess.run([*base, "-p", "shift=3"], capture_output=True, text=True,
                             cwd=tmp_path, env=env)
    assert drifted.returncode == 1
    assert "DriftDetected" in drifted.stdout + drifted.stderr
    assert "petal length (cm)" in drifted.stdout + drifted.stderr
