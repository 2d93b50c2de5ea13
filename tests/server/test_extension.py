"""The package installs as an enabled Jupyter server extension (as the JupyterLab extension
template ships it: jupyter-config/ -> etc/jupyter/jupyter_server_config.d/), and importing
the package for `liminal-nb` stays light."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_jupyter_lists_the_extension_enabled_and_valid():
    jupyter = Path(sys.executable).with_name("jupyter")

    listed = subprocess.run([jupyter, "server", "extension", "list"], capture_output=True,
                            text=True, timeout=120)

    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    assert "liminal_jupyter enabled" in text, text
    assert re.search(r"liminal_jupyter \S+ OK", text), text


def test_the_shipped_config_enables_the_extension_module():
    config = json.loads((REPO / "jupyter-config/server-config/liminal_jupyter.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"liminal_jupyter": True}}}
    import liminal_jupyter

    [point] = liminal_jupyter._jupyter_server_extension_points()
    assert point == {"module": "liminal_jupyter.server"}
    module = __import__(point["module"], fromlist=["_load_jupyter_server_extension"])
    assert callable(module._load_jupyter_server_extension)


def test_importing_the_package_does_not_import_the_server():
    code = ("import sys, liminal_jupyter; liminal_jupyter._jupyter_server_extension_points();"
            "print(sorted(m for m in ('jupyter_server', 'tornado', 'liminal_jupyter.server')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"
