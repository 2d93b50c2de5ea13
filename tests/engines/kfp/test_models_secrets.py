"""`model:VAR` as KFP Model artifacts and `secret:NAME:KEY:ENV` via kfp-kubernetes, in
the compiled spec (the model artifact of a kfp.local run is checked in
test_local_backend.py)."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

pytest.importorskip("kfp")
import yaml  # noqa: E402  (a kfp dependency)
from kfp import components  # noqa: E402

from liminal_jupyter.cli_compile import add_compile_command  # noqa: E402
from liminal_jupyter.engines.kfp import compile as kfp_compile  # noqa: E402
from liminal_jupyter.engines.kfp.compile import (  # noqa: E402
    NEEDS_KFP_KUBERNETES,
    CompileError,
    compile_pipeline,
    generate_module,
)
from liminal_jupyter.notebook.parse import parse_notebook  # noqa: E402
from tests.conftest import EXAMPLES, code  # noqa: E402

IRIS = EXAMPLES / "iris_classification.ipynb"


def compile_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="liminal-nb")
    add_compile_command(parser.add_subparsers())
    args = parser.parse_args(["compile", *argv])
    return args.handler(args)


def test_iris_model_is_a_kfp_model_artifact(tmp_path):
    """The train step's `model:` value is a system.Model output of its task (not of the
    steps that read it). That the artifact kfp.local writes loads and predicts, with its
    metadata, is checked on the run of test_local_backend.py's iris test."""
    notebook = tmp_path / "iris_classification.ipynb"
    shutil.copy(IRIS, notebook)
    yaml_path = tmp_path / "iris.yaml"
    compile_pipeline(parse_notebook(notebook), yaml_path, install_runtime=False)
    components.load_component_from_file(str(yaml_path))
    spec = yaml.safe_load(yaml_path.read_text())
    outputs = spec["components"]["comp-step-train"]["outputDefinitions"]["artifacts"]
    assert outputs["model_clf"]["artifactType"]["schemaTitle"] == "system.Model"
    assert outputs["step_outputs"]["artifactType"]["schemaTitle"] == "system.Dataset"
    assert "model_clf" not in spec["components"]["comp-step-evaluate"].get(
        "outputDefinitions", {}).get("artifacts", {})


def _secret_notebook(write_nb):
    return write_nb([
        code("a = 1", "step:first"),
        code("b = a + 1", "step:second", "secret:db-creds:password:DB_PASS"),
    ])


def test_secret_tags_compile_to_the_kubernetes_platform_config(write_nb, tmp_path, capsys):
    nb = _secret_notebook(write_nb)
    yaml_path = tmp_path / "s.yaml"
    assert compile_cli(str(nb), "-o", str(yaml_path)) == 0
    assert "secret" not in capsys.readouterr().err  # no longer a left-out note
    components.load_component_from_file(str(yaml_path))
    docs = list(yaml.safe_load_all(yaml_path.read_text()))
    assert len(docs) == 2
    executors = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    config = executors["exec-step-second"]
    assert "exec-step-first" not in executors
    text = json.dumps(config)
    assert "db-creds" in text and "password" in text and "DB_PASS" in text


def test_no_secrets_no_kubernetes_import_and_one_document(write_nb, tmp_path):
    nb = write_nb([code("a = 1", "step:first")])
    source, _ = generate_module(parse_notebook(nb))
    assert "from kfp import kubernetes" not in source
    yaml_path = tmp_path / "p.yaml"
    compile_pipeline(parse_notebook(nb), yaml_path)
    assert len(list(yaml.safe_load_all(yaml_path.read_text()))) == 1


def test_secrets_without_kfp_kubernetes_fail_clearly(write_nb, tmp_path, monkeypatch, capsys):
    nb = _secret_notebook(write_nb)
    monkeypatch.setattr(kfp_compile, "have_kfp_kubernetes", lambda: False)
    with pytest.raises(CompileError, match=r"pip install 'liminal-jupyter\[kubernetes\]'"):
        compile_pipeline(parse_notebook(nb), tmp_path / "s.yaml")
    assert compile_cli(str(nb), "-o", str(tmp_path / "s.yaml")) != 0
    assert NEEDS_KFP_KUBERNETES in capsys.readouterr().err
    assert not (tmp_path / "s.yaml").exists()
    # without secrets compile still works (the module does not import kfp.kubernetes)
    plain = write_nb([code("a = 1", "step:first")], name="plain.ipynb")
    compile_pipeline(parse_notebook(plain), tmp_path / "p.yaml")


def test_labels_annotations_and_volumes_compile_to_the_kubernetes_config(write_nb, tmp_path,
                                                                         capsys):
    nb = write_nb(
        [code("a = 1", "step:first", "label:team:ml", "annotation:owner:data-science",
              "timeout:90s"),
         code("print(a)", "step:second")],
        {"liminal": {"volumes": [{"pvc": "shared-data", "mount_path": "/data"}]}},
    )
    yaml_path = tmp_path / "k.yaml"
    assert compile_cli(str(nb), "-o", str(yaml_path)) == 0
    assert "not compiled" not in capsys.readouterr().err
    components.load_component_from_file(str(yaml_path))
    executors = list(yaml.safe_load_all(yaml_path.read_text()))[1]["platforms"]["kubernetes"][
        "deploymentSpec"]["executors"]
    first, second = json.dumps(executors["exec-step-first"]), json.dumps(
        executors["exec-step-second"])
    assert "team" in first and "ml" in first and "owner" in first and "data-science" in first
    for config in (first, second):  # the volume goes on every step
        assert "shared-data" in config and "/data" in config
    assert "team" not in second
    assert executors["exec-step-first"]["activeDeadlineSeconds"] == "90"  # timeout:90s


def test_a_malformed_volumes_setting_is_an_error(write_nb):
    nb = write_nb([code("a = 1", "step:first")],
                  {"liminal": {"volumes": [{"pvc": "x", "mount_path": "relative"}]}})
    pipeline = parse_notebook(nb)
    assert [d.code for d in pipeline.errors] == ["bad-setting"]

