"""An executed step notebook, served as JSON for the panel's read-only viewer.

Executed step notebooks live in the hidden `.liminal/runs/<run>/steps/<step>/` folder, so
Jupyter's contents API hides them unless the user started the server with
`ContentsManager.allow_hidden`. Rather than asking users to weaken that setting for the
whole tree, this route serves exactly one kind of file: the notebook the run store
recorded for one step of one run of a notebook the request may read, and only when it
lies inside that run's folder (or, for a step taken from the cache, the folder of the run
it was cached from) and inside the server's root. The store is a file in the user's
folder, so its word on the path is checked, never trusted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from liminal_jupyter.server.errors import ApiError
from liminal_jupyter.server.paths import inside_root, shown_path
from liminal_jupyter.server.run_views import find_run

# A step name as the run store accepts it for a folder name (runs/store.py); `..` in it
# is refused on top, so no name can even look like a way up.
_STEP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def check_step_name(step: str) -> str:
    """`step` when it can name a step folder; 400 otherwise (slashes, `..`, blanks)."""
    if not _STEP_NAME.match(step) or ".." in step:
        raise ApiError(400, f"{shown_path(step)!r} is not a step name: step names are "
                       "letters, digits, '_', '-' and '.', without '/' or '..'.")
    return step


def executed_notebook(root: Path, notebook: Path, run_id: str, step: str) -> dict[str, Any]:
    """The executed notebook of `step` in run `run_id` of `notebook`, parsed from JSON.

    404 for an unknown run or step, or a step with no executed notebook (yet); 403 when
    the recorded file lies outside its run's folder or the root; 500 when the file is not
    a notebook's JSON.
    """
    from liminal_jupyter.runs.store import StoreError

    check_step_name(step)
    store, run = find_run(notebook, run_id)
    try:
        record = next((s for s in store.steps(run.run_id) if s.step == step), None)
    except StoreError as exc:  # the index cannot be read: the server's trouble
        raise ApiError(500, str(exc)) from None
    if record is None:
        raise ApiError(404, f"run {run.run_id} has no step {shown_path(step)!r}.")
    if not record.executed_notebook:
        raise ApiError(404, f"step {step!r} of run {run.run_id} has no executed notebook "
                       f"(it is {record.status}).")
    path = _confined(root, store.run_dir(record.origin_run), record.executed_notebook)
    if not path.is_file():
        raise ApiError(404, f"the executed notebook of step {step!r} of run {run.run_id} "
                       "is gone from its run folder.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ApiError(500, f"the executed notebook of step {step!r} of run {run.run_id} "
                       f"cannot be read as a notebook ({exc}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ApiError(500, f"the executed notebook of step {step!r} of run {run.run_id} "
                       "is not a notebook (no cells).")
    return data


def _confined(root: Path, run_dir: Path, recorded: str) -> Path:
    """The recorded file's real path, if it is an .ipynb inside the run folder and root."""
    path = inside_root(root, recorded)
    try:
        folder = run_dir.resolve()
    except OSError:
        folder = None
    if (path is None or folder is None or not path.is_relative_to(folder)
            or path.suffix != ".ipynb"):
        raise ApiError(403, "the run store names an executed notebook outside its run "
                       "folder; it is not served.")
    return path
