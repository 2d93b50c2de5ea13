"""Which MLflow tracking store to use: the one resolver every part of the package asks.

`liminal-nb run` logs to it, `deploy`/`predict`/`monitor` find models in it, the server
links a run to it, and an inference step inside a run loads from it; they must agree, so
the precedence is written once, here: an explicit URI (`--tracking-uri`, a request's
`tracking_uri`), then `MLFLOW_TRACKING_URI`, then the notebook's `liminal.mlflow_uri` (or
`liminal.tracking_uri`) setting, else a SQLite store in the notebook's `.liminal/` folder.
The most specific wins: a command line beats the shell's environment, which beats what the
notebook's author chose. Empty values count as unset.

Nothing here imports MLflow: `probe_tracking_server` speaks plain HTTP.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_DB_NAME = "mlflow.db"
"""The SQLite file of the default store, inside the project's `.liminal/` directory."""

DEFAULT_ARTIFACTS_DIR = "mlartifacts"
"""Where the default store keeps artifacts, inside `.liminal/` (MLflow would use ./mlruns)."""

HEALTH_TIMEOUT_S = 2.0
"""How long the reachability probe of an http(s) tracking server may take."""

SETTING_KEYS = ("mlflow_uri", "tracking_uri")
"""The notebook settings that name a tracking URI (`tracking_uri` is an accepted alias)."""


class NoTrackingStore(LookupError):
    """Nothing names a tracking store and there is no folder to put the default one in."""


def default_tracking_uri(liminal_dir: str | os.PathLike[str]) -> str:
    """The local SQLite store used when nothing else is configured."""
    return f"sqlite:///{Path(liminal_dir).resolve() / DEFAULT_DB_NAME}"


def default_artifact_location(liminal_dir: str | os.PathLike[str]) -> str:
    """Artifact root for experiments created in the default store (a file URI)."""
    return (Path(liminal_dir).resolve() / DEFAULT_ARTIFACTS_DIR).as_uri()


def configured_tracking_uri(explicit: str | None,
                            settings: Mapping[str, Any] | None = None) -> str | None:
    """The URI someone chose (explicit, environment, notebook setting), or None when the
    default local store applies."""
    settings = settings or {}
    for candidate in (explicit, os.environ.get("MLFLOW_TRACKING_URI"),
                      *(settings.get(key) for key in SETTING_KEYS)):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def resolve_tracking_uri(explicit: str | None, settings: Mapping[str, Any] | None,
                         liminal_dir: str | os.PathLike[str] | None) -> str:
    """The tracking URI: the configured one, else SQLite in `liminal_dir` (the run store's
    folder). Raises NoTrackingStore when nothing is configured and `liminal_dir` is None."""
    uri = configured_tracking_uri(explicit, settings)
    if uri is not None:
        return uri
    if liminal_dir is None:
        raise NoTrackingStore("no MLflow tracking store is configured: give a tracking URI "
                              "(or set MLFLOW_TRACKING_URI), or the notebook whose runs "
                              "registered the model")
    return default_tracking_uri(liminal_dir)


def tracking_uri_for(explicit: str | None, where: str | os.PathLike[str] = ".") -> str:
    """The tracking URI for a notebook or a folder (`where`), as `liminal-nb run` of that
    notebook picks it. A notebook's settings are read as plain JSON (no parsing, no
    nbformat): this answers the panel's polls and each `liminal-nb deploy`."""
    from liminal_jupyter.notebook.settings import metadata_settings
    from liminal_jupyter.runs.location import NOTEBOOK_SUFFIXES, liminal_dir

    target = Path(where)
    settings = metadata_settings(target) if target.suffix in NOTEBOOK_SUFFIXES else {}
    return resolve_tracking_uri(explicit, settings, liminal_dir(target))


def probe_tracking_server(uri: str, timeout: float = HEALTH_TIMEOUT_S) -> str | None:
    """Why an http(s) tracking server cannot be used, or None when it answers.

    A quick GET of `<uri>/health`, so a server that is down costs two seconds instead of
    MLflow's retries. Any HTTP answer, even an error status (an auth proxy, a server without
    /health), proves something is listening, so only connection failures count. Other URI
    schemes (sqlite, file, databricks) are not probed.
    """
    if not uri.lower().startswith(("http://", "https://")):
        return None
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read(64)
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"the MLflow tracking server at {uri} is not reachable ({reason})"
    return None
