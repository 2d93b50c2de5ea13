"""`Pipeline.from_notebook()` with no path: the notebook of the kernel it runs in.

The last test starts a real kernel the way jupyter_server does (with JPY_SESSION_NAME in
its environment) and asks it, so ipykernel's own `__session__` is what is read.
"""

from __future__ import annotations

import json
import os

import pytest
from conftest import code

from liminal_jupyter import NotebookUnknown, Pipeline
from liminal_jupyter.api.jupyter import SESSION_ENV, in_notebook

CELLS = [code("x = 1", "step:one")]


def test_the_session_path_jupyter_server_sets_names_the_notebook(write_nb, monkeypatch):
    notebook = write_nb(CELLS, name="session.ipynb")
    monkeypatch.setenv(SESSION_ENV, str(notebook))

    assert Pipeline.from_notebook().notebook == notebook.resolve()


def test_a_relative_session_path_is_found_from_the_kernels_folder(write_nb, monkeypatch):
    notebook = write_nb(CELLS, name="here.ipynb")
    monkeypatch.chdir(notebook.parent)
    monkeypatch.setenv(SESSION_ENV, "some/server/root/here.ipynb")

    assert Pipeline.from_notebook().name == "here"


def test_without_a_kernel_the_error_says_to_pass_the_path(monkeypatch, tmp_path):
    monkeypatch.delenv(SESSION_ENV, raising=False)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(NotebookUnknown, match=r"pass its path, e.g. Pipeline.from_notebook"):
        Pipeline.from_notebook()
    assert not in_notebook()


def test_inside_a_real_kernel_the_current_notebook_is_found(write_nb, tmp_path):
    from jupyter_client.manager import start_new_kernel

    notebook = write_nb(CELLS, name="in_kernel.ipynb")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()


    env = {**os.environ, SESSION_ENV: str(notebook)}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(elsewhere))
    try:
        printed: list[str] = []

        def collect(msg):
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                printed.append("\n".join(msg["content"]["traceback"]))

        reply = client.execute_interactive(
            "import json\nfrom liminal_jupyter import Pipeline\n"
            "from liminal_jupyter.api.jupyter import in_notebook\n"
            "p = Pipeline.from_notebook()\n"
            "print(json.dumps([__session__, p.name, str(p.notebook), in_notebook()]))",
            output_hook=collect, timeout=120)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    assert reply["content"]["status"] == "ok", printed
    session, name, path, notebook_mode = json.loads("".join(printed).strip().splitlines()[-1])
    assert session == str(notebook)
    assert (name, path, notebook_mode) == ("in-kernel", str(notebook.resolve()), True)
