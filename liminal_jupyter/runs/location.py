"""Where the runs ledger lives: the one place that knows `.liminal/` and its names.

Run records sit next to the notebook, so they travel with the project folder. Every engine,
the server, the Python API and the CLI find a notebook's store through these functions.
"""

from __future__ import annotations

import os
from pathlib import Path

LIMINAL_DIR = ".liminal"
"""The hidden folder beside a notebook that holds its runs, reports and default MLflow."""

NOTEBOOK_SUFFIXES = (".ipynb", ".yml", ".yaml")
"""Files whose runs are kept beside them: notebooks and pipeline files (liminal.yml)."""


def liminal_dir(notebook_or_folder: str | os.PathLike[str]) -> Path:
    """`.liminal/` for a notebook or a pipeline file (liminal.yml: beside it) or for a
    folder (inside it)."""
    path = Path(notebook_or_folder)
    folder = path.parent if path.suffix.lower() in NOTEBOOK_SUFFIXES else path
    return folder.resolve() / LIMINAL_DIR


def reports_dir(folder: str | os.PathLike[str]) -> Path:
    """Drift and run reports written for the notebooks of `folder`."""
    return liminal_dir(folder) / "reports"


def run_store_for(notebook_or_folder: str | os.PathLike[str]):
    """The run store of a notebook or folder (imported lazily: sqlite setup is not free)."""
    from liminal_jupyter.runs.store import RunStore

    return RunStore(liminal_dir(notebook_or_folder))
