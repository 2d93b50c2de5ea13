"""Runs from the run store as the panel reads them (docs/rest-api.md).

Everything here reads the store and the files next to it; the store is the single source
of truth, so runs started from a terminal, or before a server restart, show the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.store import RunRecord, RunStore, StepRecord
from liminal_jupyter.server.errors import ApiError
from liminal_jupyter.server.paths import inside_root, relative_to_root, shown_path

LOG_TAIL_LINES = 40
_TAIL_BYTES = 64 * 1024  # enough for 40 long lines; a log can be large


def step_view(root: Path, step: StepRecord) -> dict[str, Any]:
    """StepRecord.to_json() plus duration, log_tail and executed_notebook_path."""
    data = step.to_json()
    data["duration"] = (
        step.ended - step.started if step.started is not None and step.ended is not None
        else None
    )
    data["log_tail"] = log_tail(root, step.log_path)
    data["executed_notebook_path"] = relative_to_root(root, step.executed_notebook)
    return data


def log_tail(root: Path, log_path: str | None, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a step log under the root; "" when there is none.

    A path outside the root is not read: the record may come from a shared folder.
    """
    path = inside_root(root, log_path)
    if path is None or not path.is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - _TAIL_BYTES))
        chunk = f.read()
    text = chunk.decode("utf-8", errors="replace")
    kept = text.splitlines()
    if size > _TAIL_BYTES and kept:
        kept = kept[1:]  # the first line was cut in the middle
    return "\n".join(kept[-lines:])


def mlflow_url(run: RunRecord, tracking_uri: str | None) -> str | None:
    """The run's page in the MLflow UI, when it was tracked on an MLflow server.

    A local store (sqlite:, file:, a folder) has no web UI, so no link. MLflow's UI opens
    a run by id alone (`#/runs/ID` redirects to the run's experiment page).
    """
    if not run.tracking_run_id or not tracking_uri:
        return None
    if not tracking_uri.lower().startswith(("http://", "https://")):
        return None
    return f"{tracking_uri.rstrip('/')}/#/runs/{run.tracking_run_id}"


def tracking_uri_for(notebook: Path, given: str | None) -> str | None:
    """The tracking URI a run of `notebook` used, as the runner picks it (tracking/uri.py);
    None means the runner's default local store. Read as plain JSON (no nbformat): this
    answers every poll of the panel."""
    from liminal_jupyter.notebook.settings import metadata_settings
    from liminal_jupyter.tracking.uri import configured_tracking_uri

    return configured_tracking_uri(given, metadata_settings(notebook))


def run_detail(root: Path, notebook: Path, run_id: str, tracking_uri: str | None
               ) -> dict[str, Any]:
    """GET /liminal/runs/ID: {"run", "steps", "mlflow_url", "models", "models_pending"};
    404 for an unknown run."""
    from liminal_jupyter.server.remote_runs import engine_url, log_tails, refresh

    store, run = find_run(notebook, run_id)
    with _store_errors():
        run, note = refresh(store, run)  # a remote run: its engine asked, when due
        steps = [step_view(root, step) for step in store.steps(run.run_id)]
        note = log_tails(store, run, steps, LOG_TAIL_LINES) if note is None else note
    uri = tracking_uri_for(notebook, tracking_uri)
    from liminal_jupyter.server.model_views import run_models

    return {"run": run.to_json(), "steps": steps, "mlflow_url": mlflow_url(run, uri),
            "engine_url": engine_url(run), "remote_note": note, **run_models(store, run)}


def cancel(notebook: Path, run_id: str) -> None:
    """DELETE /liminal/runs/ID: the run's engine stops it (a local run: SIGTERM to its
    runner; a submitted run: its host is asked); 409 when it is not running, 502 when its
    host cannot be asked."""
    from liminal_jupyter.engines.registry import engines
    from liminal_jupyter.server.remote_runs import submitted

    store, run = find_run(notebook, run_id)
    engine = engines().get(run.backend)
    if engine is None or not engine.capabilities.cancel:
        raise ApiError(409, f"run {run.run_id} ran on {run.backend}, which cannot cancel a "
                       "run from here.")
    try:
        cancelled = engine.cancel(store, run.run_id)  # type: ignore[attr-defined]
    except Exception as exc:
        if not submitted(run):
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ApiError(502, f"run {run.run_id} was not cancelled: {text}") from None
    if not cancelled:
        status = store.get_run(run.run_id).status
        raise ApiError(409, f"run {run.run_id} is not running (it is {status}); only a "
                       "running run can be cancelled.")


def find_run(notebook: Path, run_id: str) -> tuple[RunStore, RunRecord]:
    """The run `run_id` (or a unique prefix) of the notebook's folder, else 404."""
    from liminal_jupyter.runs.store import RunNotFound

    store = store_of(notebook)
    try:
        if store is None:
            raise RunNotFound(run_id)
        with _store_errors():
            return store, store.get_run(run_id)
    except RunNotFound:
        raise ApiError(404, f"no run {shown_path(run_id)!r} of {notebook.name} (or the id is "
                       "ambiguous): GET /liminal/runs lists its runs.") from None


def store_of(notebook: Path) -> RunStore | None:
    """The notebook folder's run store, or None when nothing was ever recorded there
    (reading must not create `.liminal/` in the user's folder)."""
    from liminal_jupyter.runs.launch import run_store_for

    store = run_store_for(notebook)
    return store if store.db_path.exists() else None


def list_runs(notebook: Path, limit: int) -> list[dict[str, Any]]:
    """GET /liminal/runs: the notebook's runs (every backend), newest first."""
    from liminal_jupyter.server.remote_runs import MAX_PER_LIST, is_remote, refresh

    store = store_of(notebook)
    if store is None:
        return []
    with _store_errors():
        runs = store.list_runs(notebook, limit=limit)
        remote = [n for n, run in enumerate(runs) if is_remote(run)][:MAX_PER_LIST]
        for n in remote:  # unfinished remote runs: their engines asked, when due
            runs[n] = refresh(store, runs[n])[0]
        return [run.to_json() for run in runs]


@contextmanager
def _store_errors() -> Iterator[None]:
    """A run index that cannot be read (locked for too long, written by a newer version)
    is the server's trouble, said in the store's own words rather than a traceback."""
    from liminal_jupyter.runs.store import RunNotFound, StoreError

    try:
        yield
    except RunNotFound:
        raise
    except StoreError as exc:
        raise ApiError(500, str(exc)) from None
