"""The one tracking-URI resolver (tracking/uri.py), and that every part that picks a store
(the runner, `liminal-nb deploy`, the server) agrees with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liminal_jupyter.tracking.uri import (
    NoTrackingStore,
    configured_tracking_uri,
    default_tracking_uri,
    resolve_tracking_uri,
    tracking_uri_for,
)


def _notebook(path: Path, settings: dict | None) -> Path:
    meta = {"kernelspec": {"name": "python3"}}
    if settings is not None:
        meta["liminal"] = settings
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": meta,
                                "cells": [{"cell_type": "code", "id": "c0", "metadata": {},
                                           "source": "x = 1", "outputs": [],
                                           "execution_count": None}]}))
    return path


@pytest.fixture
def no_env_uri(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return monkeypatch


def test_precedence_explicit_then_environment_then_notebook_then_local_sqlite(
        tmp_path, no_env_uri):
    liminal = tmp_path / ".liminal"
    default = resolve_tracking_uri(None, {}, liminal)
    assert default == f"sqlite:///{liminal.resolve()}/mlflow.db"
    assert default == default_tracking_uri(liminal)
    noted = {"mlflow_uri": "http://notebook:5000"}
    assert resolve_tracking_uri(None, noted, liminal) == "http://notebook:5000"
    assert resolve_tracking_uri(None, {"tracking_uri": " http://alias:5000 "},
                                liminal) == "http://alias:5000"
    no_env_uri.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert resolve_tracking_uri(None, noted, liminal) == "http://env:5000"
    assert resolve_tracking_uri("http://cli:5000", noted, liminal) == "http://cli:5000"
    assert resolve_tracking_uri("  ", noted, liminal) == "http://env:5000"  # empty is unset
    no_env_uri.setenv("MLFLOW_TRACKING_URI", "")
    assert resolve_tracking_uri(None, noted, liminal) == "http://notebook:5000"


def test_nothing_configured_and_no_folder_is_an_error(no_env_uri):
    assert configured_tracking_uri(None, {}) is None
    with pytest.raises(NoTrackingStore, match="tracking URI"):
        resolve_tracking_uri(None, None, None)


def test_a_notebook_or_its_folder_gives_the_store_its_runs_use(tmp_path, no_env_uri):
    folder = tmp_path / "project"
    folder.mkdir()
    plain = _notebook(folder / "plain.ipynb", None)
    local = default_tracking_uri(folder / ".liminal")
    assert tracking_uri_for(None, plain) == local
    assert tracking_uri_for(None, folder) == local
    assert tracking_uri_for(None, folder / "missing.ipynb") == local
    noted = _notebook(folder / "noted.ipynb", {"tracking_uri": "http://team:5000"})
    assert tracking_uri_for(None, noted) == "http://team:5000"
    assert tracking_uri_for("http://cli:5000", noted) == "http://cli:5000"


def test_the_server_and_the_runner_pick_the_same_store(tmp_path, no_env_uri):
    """The server's two readers (the registry of a Deploy request, the MLflow link of a
    run) and the runner's choice, for one notebook."""
    from liminal_jupyter.notebook.parse import parse_notebook
    from liminal_jupyter.server.errors import ApiError
    from liminal_jupyter.server.model_views import registry_uri
    from liminal_jupyter.server.run_views import tracking_uri_for as link_uri

    plain = _notebook(tmp_path / "plain.ipynb", None)
    noted = _notebook(tmp_path / "noted.ipynb", {"mlflow_uri": "http://team:5000"})
    runner = {nb: resolve_tracking_uri(None, parse_notebook(nb).settings, tmp_path / ".liminal")
              for nb in (plain, noted)}
    assert registry_uri(None, plain) == runner[plain] == default_tracking_uri(tmp_path / ".liminal")
    assert registry_uri(None, noted) == runner[noted] == "http://team:5000"
    assert link_uri(plain, None) is None  # the local store: no MLflow UI to link to
    assert link_uri(noted, None) == "http://team:5000"
    assert link_uri(noted, "http://asked:5000") == "http://asked:5000"
    with pytest.raises(ApiError) as raised:
        registry_uri(None, None)
    assert raised.value.status_code == 400


def test_a_pipeline_files_tracking_setting_is_the_store_of_its_runs(tmp_path, no_env_uri):
    """liminal.yml's `tracking:` (a URI or {uri: ...}) is what the runner uses, so the
    server's MLflow link and registry, and `liminal-nb deploy`, read it too."""
    from liminal_jupyter.notebook.parse import parse_notebook
    from liminal_jupyter.server.model_views import registry_uri
    from liminal_jupyter.server.run_views import tracking_uri_for as link_uri

    _notebook(tmp_path / "a.ipynb", None)
    pipeline_file = tmp_path / "liminal.yml"
    for written in ("tracking: http://team:5000", "tracking:\n  uri: http://team:5000"):
        pipeline_file.write_text(f"name: two\nnotebooks: [a.ipynb]\n{written}\n")
        runner = resolve_tracking_uri(None, parse_notebook(pipeline_file).settings,
                                      tmp_path / ".liminal")
        assert runner == link_uri(pipeline_file, None) == registry_uri(None, pipeline_file)
        assert runner == tracking_uri_for(None, pipeline_file) == "http://team:5000"
    pipeline_file.write_text("name: two\nnotebooks: [a.ipynb]\n")
    assert link_uri(pipeline_file, None) is None
    pipeline_file.write_text("notebooks: [a.ipynb\n")  # not YAML: the default store
    assert tracking_uri_for(None, pipeline_file) == default_tracking_uri(tmp_path / ".liminal")
