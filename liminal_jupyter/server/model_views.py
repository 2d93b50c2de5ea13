"""What the panel needs to offer Deploy and Monitor: a run's registered models, and files
(data to monitor, drift reports) confined to the server's root dir like notebooks are.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.location import LIMINAL_DIR
from liminal_jupyter.runs.registered import read_registered_models
from liminal_jupyter.runs.store import RunRecord, RunStore, process_alive
from liminal_jupyter.server.errors import ApiError
from liminal_jupyter.server.paths import _relative_parts, file_system_errors, shown_path

DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")
REPORTS_DIR = (LIMINAL_DIR, "reports")


def run_models(store: RunStore, run: RunRecord) -> dict[str, Any]:
    """{"models": [...], "models_pending": bool} of a run (docs/rest-api.md).

    The runner writes down its registered models before it records the run's end; a run
    whose record says finished while its runner still lives and nothing is written yet
    (an older runner recorded the end first) is `models_pending`: the panel reads again.
    """
    from liminal_jupyter.engines.registry import engines

    models = read_registered_models(store.run_dir(run.run_id))
    engine = engines().get(run.backend)
    registers = engine is not None and engine.capabilities.models
    pending = (models is None and run.finished and registers and bool(run.runner_pid)
               and process_alive(run.runner_pid, run.runner_start_time))
    return {"models": models or [], "models_pending": pending}


def confined_file(root: Path, path: object, suffixes: tuple[str, ...], what: str) -> Path:
    """The real path of file `path` under `root`: 403 outside it (absolute, `..`, a symlink
    out), 400 a wrong kind of file, 404 no such file."""
    if not isinstance(path, str) or not path.strip():
        raise ApiError(400, f"give the {what} as a path relative to the server's root dir.")
    relative = _relative_parts(path)
    shown = shown_path(path)
    with file_system_errors(path):
        resolved = root.joinpath(*relative).resolve()
        if not resolved.is_relative_to(root):
            raise ApiError(403, f"{shown}: the path leads outside the server's root dir "
                           "(through a symbolic link).")
        if not path.lower().endswith(suffixes):
            raise ApiError(400, f"{shown}: not a {what}; give a {', '.join(suffixes)} file.")
        if not resolved.is_file():
            raise ApiError(404, f"{shown}: no such file under the server's root dir.")
    return resolved


def report_path_for(data: Path, model: str) -> Path:
    """Where the drift report of a check of `data` goes: `.liminal/reports/` beside it."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip(".-") or "model"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return data.parent.joinpath(*REPORTS_DIR) / f"drift-{safe}-{stamp}-{secrets.token_hex(2)}.html"


def report_file(root: Path, path: object) -> Path:
    """A drift report this extension wrote: an .html file directly in a `.liminal/reports/`
    folder under the root. Anything else is 404, so this route serves no other file."""
    report = confined_file(root, path, (".html",), "drift report")
    if report.parent.parts[-2:] != REPORTS_DIR:
        raise ApiError(404, f"{shown_path(path)}: not a drift report (those live in "
                       ".liminal/reports/).")
    return report


def registry_uri(given: str | None, notebook: Path | None) -> str:
    """The tracking store to find models in, as `liminal-nb deploy --dir NOTEBOOK` picks
    it (tracking/uri.py). 400 when there is nothing to go by."""
    from liminal_jupyter.notebook.settings import metadata_settings
    from liminal_jupyter.runs.location import liminal_dir
    from liminal_jupyter.tracking.uri import NoTrackingStore, resolve_tracking_uri

    try:
        return resolve_tracking_uri(given, metadata_settings(notebook),
                                    None if notebook is None else liminal_dir(notebook))
    except NoTrackingStore:
        raise ApiError(400, "say where the model is registered: give 'tracking_uri' (the "
                       "MLflow tracking URI) or 'path' (the notebook whose runs registered "
                       "it).") from None
