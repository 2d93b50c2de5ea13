"""The wheel carries the prebuilt panel, so `pip install liminal-jupyter` gives a working
JupyterLab panel with no node on the user's machine (as the extension template ships it).

Builds the real wheel from this checkout with hatchling and hatch-jupyter-builder (no
build isolation: nothing is downloaded) and reads it like pip would install it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from liminal_jupyter import _jupyter_labextension_paths
from tests.conftest import REPO

DATA = "liminal_jupyter-0.1.0.data/data/"
LABEXT = DATA + "share/jupyter/labextensions/liminal-jupyter/"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    if not (REPO / "liminal_jupyter" / "labextension" / "static" / "style.js").exists():
        pytest.fail("the panel is not built: run `make labextension`")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(out), str(REPO)],
        check=True,
        # The panel is prebuilt: the jupyter-builder hook must not call npm here.
        env={**os.environ, "SKIP_JUPYTER_BUILDER": "1"},
    )
    (path,) = out.glob("liminal_jupyter-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_installs_the_built_panel_where_jupyterlab_looks(wheel):
    names = set(wheel.namelist())
    package = json.loads(wheel.read(LABEXT + "package.json"))
    assert package["name"] == "liminal-jupyter"
    # The federated bundle JupyterLab loads, and its style module.
    load = package["jupyterlab"]["_build"]["load"]
    assert LABEXT + load in names
    assert LABEXT + "static/style.js" in names
    assert json.loads(wheel.read(LABEXT + "install.json"))["packageName"] == "liminal-jupyter"


def test_the_wheel_carries_the_settings_schema_and_enables_the_server_extension(wheel):
    schema = json.loads(wheel.read(LABEXT + "schemas/liminal-jupyter/plugin.json"))
    assert set(schema["properties"]) == {
        "kfpHost", "mlflowTrackingUri", "defaultImage", "maxParallelSteps"
    }
    assert schema["properties"]["maxParallelSteps"]["default"] == 0
    config = json.loads(
        wheel.read(DATA + "etc/jupyter/jupyter_server_config.d/liminal_jupyter.json")
    )
    assert config["ServerApp"]["jpserver_extensions"] == {"liminal_jupyter": True}


def test_sources_and_node_files_stay_out_of_the_wheel(wheel):
    names = wheel.namelist()
    assert not [n for n in names if n.endswith((".ts", ".tsx")) or "node_modules" in n]
    # The build output is wheel data, not a second copy inside the package.
    assert not [n for n in names if n.startswith("liminal_jupyter/labextension/")]


def test_labextension_paths_point_at_the_build():
    (entry,) = _jupyter_labextension_paths()
    assert entry["dest"] == "liminal-jupyter"
    built = REPO / "liminal_jupyter" / entry["src"] / "package.json"
    assert json.loads(built.read_text())["name"] == "liminal-jupyter"
