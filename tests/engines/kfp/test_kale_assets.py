"""Every notebook of Kale 2.3's own test assets (tests/notebooks/kale/, copied from the
kubeflow-kale wheel) inspects, compiles to KFP and, for the one whose run says something,
runs; Kale's notebook metadata (image, volumes) reaches the compiled KFP YAML.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from kfp import components

from liminal_jupyter.cli import main
from liminal_jupyter.engines.kfp.local_backend import run_kfp_local
from liminal_jupyter.runs.store import RunStore
from tests.conftest import TEST_NOTEBOOKS, code, notebook_json

KALE_ASSETS = sorted((TEST_NOTEBOOKS / "kale").glob("*.ipynb"))
PARAMS_AND_METRICS = TEST_NOTEBOOKS / "kale" / "pipeline_parameters_and_metrics.ipynb"


def compiled(path, tmp_path, capsys) -> tuple[dict, dict]:
    """(pipeline spec, kubernetes platform spec or {}) of `liminal-nb compile` on path."""
    out = tmp_path / f"{path.stem}.yaml"
    assert main(["compile", "--target", "kfp", str(path), "-o", str(out)]) == 0, \
        capsys.readouterr().err
    components.load_component_from_file(str(out))  # kfp itself accepts the YAML
    docs = list(yaml.safe_load_all(out.read_text()))
    platform = docs[1]["platforms"]["kubernetes"] if len(docs) > 1 else {}
    return docs[0], platform


def test_the_assets_are_kales_three_notebooks():
    assert [p.name for p in KALE_ASSETS] == [
        "mount_pvc.ipynb", "mount_pvc_env_var.ipynb", "pipeline_parameters_and_metrics.ipynb"]


@pytest.mark.parametrize("asset", KALE_ASSETS, ids=lambda p: p.stem)
def test_every_kale_asset_inspects_cleanly_and_compiles_to_kfp(asset, tmp_path, capsys):
    notebook = tmp_path / asset.name
    shutil.copy(asset, notebook)
    assert main(["inspect", "--json", str(notebook)]) == 0
    ir = json.loads(capsys.readouterr().out)
    assert ir["valid"] and ir["errors"] == [] and ir["warnings"] == []
    spec, _ = compiled(notebook, tmp_path, capsys)
    # one KFP task per Kale step, under Kale's pipeline name
    kale_meta = json.loads(asset.read_text())["metadata"]["kubeflow_notebook"]
    assert spec["pipelineInfo"]["name"] == kale_meta["pipeline_name"]
    assert len(spec["root"]["dag"]["tasks"]) == len(ir["steps"]) == 2


def test_kales_parameters_and_metrics_notebook_logs_parameters_as_metrics(tmp_path, capsys):
    """print(d1) in Kale's pipeline-metrics cell: the run logs the value d1 had in the run."""
    notebook = tmp_path / PARAMS_AND_METRICS.name
    shutil.copy(PARAMS_AND_METRICS, notebook)
    assert main(["run", "--no-tracking", "--json", "-p", "d1=3", str(notebook)]) == 0
    run_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    steps = {s.step: s for s in RunStore(tmp_path / ".liminal").steps(run_id)}
    assert steps["create_matrix"].metrics == {"d1": 3, "d2": 6}
    # sum_result is the sum of a 3x6 matrix of values in [0, 1)
    assert 0 <= steps["sum_matrix"].metrics["sum_result"] < 18


def test_parameter_metrics_under_kfp_local_carry_the_overridden_value(tmp_path):
    """On KFP a step gets only the parameters it reads: the metric's owner reads d2 too."""
    notebook = tmp_path / PARAMS_AND_METRICS.name
    shutil.copy(PARAMS_AND_METRICS, notebook)
    run_id, status, metrics = run_kfp_local(notebook, {"d1": 2, "d2": 4})
    assert status == "succeeded"
    assert (metrics["d1"], metrics["d2"]) == (2, 4)
    assert 0 <= metrics["sum_result"] < 8
    steps = {s.step: s for s in RunStore(tmp_path / ".liminal").steps(run_id)}
    assert steps["create_matrix"].metrics == {"d1": 2, "d2": 4}


def test_kale_2_base_image_and_pvc_volume_with_env_var_reach_the_kfp_yaml(tmp_path, capsys):
    spec, platform = compiled(TEST_NOTEBOOKS / "kale" / "mount_pvc_env_var.ipynb", tmp_path,
                              capsys)
    executors = spec["deploymentSpec"]["executors"]
    assert set(executors) == {"exec-step-load", "exec-step-train"}
    for name, executor in executors.items():
        assert executor["container"]["image"] == "python:3.12"
        assert {"name": "KALE_VOLUME_RAW_DATA", "value": "/data"} in executor["container"]["env"]
        (mount,) = platform["deploymentSpec"]["executors"][name]["pvcMount"]
        assert (mount["constant"], mount["mountPath"]) == ("raw-data", "/data")


def test_kale_1_docker_image_and_volumes_reach_the_kfp_yaml(tmp_path, capsys):
    """A Kale 1.x notebook: docker_image, and volumes with the 1.x fields (size, snapshot)."""
    notebook = tmp_path / "kale1.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        [code("x = 1", "block:first"), code("y = x + 1", "block:second", "prev:first")],
        {"kubeflow_notebook": {
            "docker_image": "gcr.io/arrikto/jupyter-kale:v0.5.0", "experiment_name": "e",
            "pipeline_name": "kale-one", "volumes": [
                {"name": "workspace-pvc", "mount_point": "/home/jovyan", "type": "pvc",
                 "annotations": [], "size": 5, "size_type": "Gi", "snapshot": False,
                 "snapshot_name": ""}]}})))
    spec, platform = compiled(notebook, tmp_path, capsys)
    for name, executor in spec["deploymentSpec"]["executors"].items():
        assert executor["container"]["image"] == "gcr.io/arrikto/jupyter-kale:v0.5.0"
        (mount,) = platform["deploymentSpec"]["executors"][name]["pvcMount"]
        assert (mount["constant"], mount["mountPath"]) == ("workspace-pvc", "/home/jovyan")


def test_kales_parameters_notebook_compiles_to_what_kales_own_dsl_says(tmp_path, capsys):
    """Kale's golden DSL for this notebook (kale/tests/assets/kfp_dsl/ in its wheel): typed
    parameters with their defaults, create_matrix cached (cache:enabled) and sum_matrix not
    (enable_caching: false), two nvidia.com/gpu on create_matrix, sum_matrix after it."""
    spec, _ = compiled(PARAMS_AND_METRICS, tmp_path, capsys)
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert {n: (p["parameterType"], p["defaultValue"]) for n, p in params.items()} == {
        "d1": ("NUMBER_INTEGER", 5), "d2": ("NUMBER_INTEGER", 6),
        "booltest": ("BOOLEAN", True), "strtest": ("STRING", "test")}
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["step-create-matrix"]["cachingOptions"] == {"enableCache": True}
    assert tasks["step-sum-matrix"]["cachingOptions"] == {}  # kfp writes no enableCache: off
    assert tasks["step-sum-matrix"]["dependentTasks"] == ["step-create-matrix"]
    accelerator = spec["deploymentSpec"]["executors"]["exec-step-create-matrix"]["container"][
        "resources"]["accelerator"]
    assert (accelerator["resourceType"], accelerator["resourceCount"]) == ("nvidia.com/gpu", "2")
