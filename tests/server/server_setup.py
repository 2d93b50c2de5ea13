"""Fixtures of the server-extension tests: a real Jupyter server (pytest-jupyter) with the
extension enabled and unauthenticated access off, notebooks written into its root dir, and
a helper to call the REST API (`api`).

Loaded by each test module as a plugin, after pytest-jupyter's (a conftest.py here would
shadow tests/conftest.py, which other test folders import as `conftest`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import notebook_json


@pytest.fixture
def jp_server_config(jp_server_config, monkeypatch):
    """The extension on, and every handler must authenticate (no unauthenticated access).
    Terminals off: not needed here, and their websocket handler warns under this setting.

    The server's (and so its runners') environment names no MLflow server unless a test
    sets one: runs track to the local SQLite store, whatever an earlier test left behind.
    """
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return {
        "ServerApp": {
            "jpserver_extensions": {"liminal_jupyter": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def put_nb(jp_root_dir):
    """put_nb(cells, relpath='nb.ipynb', metadata=None) -> the notebook's path on disk."""

    def put(cells: list[dict], relpath: str = "nb.ipynb", metadata: dict | None = None) -> Path:
        path = Path(jp_root_dir) / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(notebook_json(cells, metadata)))
        return path

    return put


@pytest.fixture
def api(jp_fetch):
    """api(method, *route, params=None, body=None) -> (status, JSON or text) of /liminal/..."""

    async def call(method: str, *route: str, params: dict | None = None,
                   body: Any = None, headers: dict | None = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False,
                                  "request_timeout": 120}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method in ("POST", "PUT"):
            kwargs["body"] = b""
        response = await jp_fetch("liminal", *route, params=params, headers=headers, **kwargs)
        text = response.body.decode("utf-8") if response.body else ""
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.code, json.loads(text)
        return response.code, text

    return call
