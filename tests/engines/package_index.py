"""A package index on 127.0.0.1 serving the wheel built from this checkout, once per test
session (a pytest plugin, tests/conftest.py): what a user's private index is to a step in a
stock image (tests/engines/kfp/test_stock_image.py, tests/engines/test_image.py)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from functools import partial

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="session")
def local_index(tmp_path_factory):
    """A PEP 503 simple index on 127.0.0.1 holding the wheel built from this checkout."""
    root = tmp_path_factory.mktemp("index")
    files = root / "files"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(files), str(REPO)],
        check=True, env={**os.environ, "SKIP_JUPYTER_BUILDER": "1"}, timeout=300)
    (wheel,) = files.glob("liminal_jupyter-*.whl")
    project = root / "simple" / "liminal-jupyter"
    project.mkdir(parents=True)
    project.joinpath("index.html").write_text(
        f'<!DOCTYPE html><html><body><a href="../../files/{wheel.name}">{wheel.name}</a>'
        "</body></html>\n", encoding="utf-8")
    handler = partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.requested = []  # type: ignore[attr-defined]
    server.root = root  # type: ignore[attr-defined]
    yield server, f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        self.server.requested.append(self.path)  # type: ignore[attr-defined]
