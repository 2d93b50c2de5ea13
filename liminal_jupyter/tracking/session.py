"""How we talk to MLflow from a process that also does other work: one lock, bounded HTTP
retries, and the process-global tracking URI set for one call only.

Why the client API with explicit run ids rather than MLflow's fluent API (`mlflow.start_run`):
steps finish in any order, from several runner threads, and the fluent API keeps one
"active run" per thread and one global experiment. Only model logging (and the registry's
resolution of a `models:/m-...` source) has no client form in MLflow 3: they read the
process-global tracking URI, so `global_tracking_uri` sets it for the call, under the lock.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

# MLflow's HTTP client retries 7 times with exponential backoff by default: minutes of
# waiting for a server that went away mid-run. Used while we call MLflow, unless the user
# set these variables themselves.
HTTP_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}

MLFLOW_LOCK = threading.RLock()
"""Serialises every MLflow call of the tracker: model logging changes the process-global
tracking URI, and the HTTP settings above are environment variables."""


@contextlib.contextmanager
def http_env_defaults() -> Iterator[None]:
    """Bounded HTTP retries while we call MLflow, unless the user chose their own."""
    added = [k for k in HTTP_ENV_DEFAULTS if k not in os.environ]
    for key in added:
        os.environ[key] = HTTP_ENV_DEFAULTS[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextlib.contextmanager
def global_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's process-global URI at ours for one call, then put back exactly what
    was there, including the MLFLOW_TRACKING_URI variable (which set_tracking_uri clears)."""
    import mlflow
    from mlflow.tracking._tracking_service import utils

    old_uri = getattr(utils, "_tracking_uri", None)
    old_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(old_uri)
        if old_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_env


def quiet_store_setup() -> None:
    """MLflow says at INFO, on stderr, that it creates and upgrades its SQLite tables: two
    lines printed over our progress view on a notebook's first tracked run. What the
    store does is ours to report; its warnings and errors still show."""
    import logging

    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def prepare_local_store(uri: str) -> None:
    """SQLite needs the database's directory to exist; a new database starts as a copy of
    an empty, migrated one (tracking/store_seed.py: seconds saved on a folder's first run)."""
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):].split("?", 1)[0]
        if path and path != ":memory:":
            from liminal_jupyter.tracking.store_seed import seed_sqlite_store

            Path(path).parent.mkdir(parents=True, exist_ok=True)
            seed_sqlite_store(Path(path))


def describe(exc: BaseException) -> str:
    """An exception in one line for a warning: its type and the first line of its text."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 300:
        first = first[:297] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
