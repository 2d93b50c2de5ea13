"""Fixtures of the panel's browser tests: a real JupyterLab (the venv's, with the built
panel and the server extension) on 127.0.0.1, and Debian's chromium driven by Python
Playwright. Nothing is downloaded: no `playwright install`, chromium comes from apt.

Loaded by each test module as a plugin (a conftest.py here would shadow tests/conftest.py,
which test modules import as `conftest`); helpers are in lab.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, UI_TIMEOUT_MS, VIEWPORT, Lab
from tests.conftest import REPO
from tests.process_groups import stop_group

LAB_START_TIMEOUT = 120.0  # seconds; the machine is shared
TOKEN = "liminal-browser-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require_built_panel() -> None:
    built = REPO / "liminal_jupyter" / "labextension" / "package.json"
    linked = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "liminal-jupyter"
    if not built.exists() or not (linked / "package.json").exists():
        pytest.fail("the panel is not built and linked into this venv: run `make labextension`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")


@contextmanager
def running_lab(base: Path, *extra_args: str, ready_route: str = "api/status",
                allow_hidden: bool = False) -> Iterator[Lab]:
    """JupyterLab on a free loopback port, with throwaway settings, workspaces and config;
    stopped (its whole process group) on exit.

    allow_hidden: Jupyter's ContentsManager.allow_hidden. Off by default, as in a plain
    `jupyter lab`: the panel then shows executed step notebooks (in the hidden .liminal/)
    in its read-only viewer; on, it opens the files themselves.
    """
    _require_built_panel()
    root = base / "root"
    root.mkdir()
    settings = base / "settings"
    # JupyterLab's news pop-up would cover the page.
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = _free_port()
    env = {
        **os.environ,
        # Our own config and data dirs: nothing from the user's ~/.jupyter leaks in.
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
    }
    # Runs track to .liminal/mlflow.db next to the notebook, not to a server of the user's.
    env.pop("MLFLOW_TRACKING_URI", None)
    log_path = base / "lab.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.allow_root=True",
            f"--ServerApp.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            f"--ContentsManager.allow_hidden={allow_hidden}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={base / 'workspaces'}",
            # window.jupyterapp: the tests read the active cell and documents from it.
            "--LabApp.expose_app_in_browser=True",
            *extra_args,
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lab = Lab(url=f"http://127.0.0.1:{port}/", token=TOKEN, root=root, settings=settings)
    try:
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                lab.api(ready_route)
                break
            except OSError:
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.5)
        yield lab
    finally:
        stop_group(process)
        log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """JupyterLab with the panel and the server extension, as a plain `jupyter lab`."""
    with running_lab(tmp_path_factory.mktemp("lab"), ready_route="liminal/status") as lab:
        yield lab


@pytest.fixture(scope="module")
def lab_allowing_hidden(tmp_path_factory) -> Iterator[Lab]:
    """JupyterLab started with --ContentsManager.allow_hidden=True."""
    with running_lab(tmp_path_factory.mktemp("lab-hidden"), ready_route="liminal/status",
                     allow_hidden=True) as lab:
        yield lab


@pytest.fixture(scope="module")
def lab_without_server_extension(tmp_path_factory) -> Iterator[Lab]:
    """JupyterLab with the panel but the server extension off: every /liminal/ route 404s."""
    with running_lab(
        tmp_path_factory.mktemp("lab-no-ext"),
        "--ServerApp.jpserver_extensions=liminal_jupyter=False",
    ) as lab:
        yield lab


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless chromium per test module: launching it is a second or two, paid once;
    each test still gets a context of its own (page), as isolated as a new profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh page at 1400x1000, in its own browser context: no storage, cookies or
    JupyterLab state shared with another test."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()
