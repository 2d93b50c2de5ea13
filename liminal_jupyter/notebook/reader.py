"""Read a .ipynb file into plain cells, fast and without trusting it.

The fast path is `json.loads`: importing nbformat costs about two seconds (its validator),
too much for `liminal-nb inspect`. nbformat is imported only to upgrade an old (v3) file.
Every way a file can be wrong becomes a NotebookError that names the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from liminal_jupyter.diagnostics import Location, NotebookError

PYTHON_LANGUAGES = {"python", "python3", "ipython", "ipython3"}


@dataclass(frozen=True)
class Cell:
    index: int
    id: str | None
    cell_type: str
    source: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class RawNotebook:
    path: str
    cells: tuple[Cell, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    kernel_name: str = "python3"
    # The notebook's folder on disk (absolute), where its workspace files are looked for;
    # None for a notebook read from bytes, which then has no workspace.
    folder: str | None = None

    def location(self, cell: Cell | None = None, line: int | None = None) -> Location:
        if cell is None:
            return Location(self.path, line=line)
        return Location(self.path, cell.index, cell.id, line, len(self.cells))


def read_notebook(path: str | Path, display_path: str | None = None) -> RawNotebook:
    """Read and check a notebook; raise NotebookError for anything that is not one."""
    path = Path(path)
    shown = display_path or str(path)
    where = Location(shown)
    if not path.exists():
        raise NotebookError.single("not-found", "no such file.", where)
    if path.is_dir():
        raise NotebookError.single(
            "is-directory", "this is a directory; give the path of a .ipynb file.", where
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotebookError.single(
            "unreadable", f"cannot read the file: {exc.strerror}.", where
        ) from None
    return replace(parse_notebook_bytes(data, shown), folder=str(path.resolve().parent))


def parse_notebook_bytes(data: bytes, shown: str) -> RawNotebook:
    where = Location(shown)
    if not data.strip():
        raise NotebookError.single("empty-file", "the file is empty; it is not a notebook.", where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError.single(
            "not-text",
            f"not a notebook: the file is not UTF-8 text (byte {exc.start} is "
            f"{data[exc.start]:#04x}). A .ipynb file is JSON.",
            where,
        ) from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError.single(
            "invalid-json",
            f"not a notebook: invalid JSON at line {exc.lineno}, column {exc.colno} "
            f"({exc.msg}). Was the file saved completely?",
            Location(shown, line=exc.lineno),
        ) from None
    except RecursionError:  # json's decoder recurses once per level of nesting
        raise NotebookError.single(
            "invalid-json",
            "not a notebook: its JSON is nested too deeply to read (thousands of levels).",
            where,
        ) from None
    if not isinstance(nb, dict) or "nbformat" not in nb:
        raise NotebookError.single(
            "not-a-notebook", "not a notebook: the JSON has no 'nbformat' field.", where
        )
    nb = _upgrade(nb, text, shown)
    metadata = nb.get("metadata") or {}
    if not isinstance(metadata, dict):
        metadata = {}
    kernel_name = _check_kernel(metadata, shown)
    raw_cells = nb.get("cells")
    if not isinstance(raw_cells, list):
        raise NotebookError.single(
            "not-a-notebook", "not a notebook: 'cells' is not a list.", where
        )
    cells = tuple(_cell(i, c, shown) for i, c in enumerate(raw_cells))
    return RawNotebook(shown, cells, metadata, kernel_name)


def _upgrade(nb: dict[str, Any], text: str, shown: str) -> dict[str, Any]:
    major = nb.get("nbformat")
    if major == 4:
        return nb
    if isinstance(major, int) and major < 4:
        import nbformat  # slow, so only for old files

        try:
            upgraded = nbformat.reads(text, as_version=4)
        except Exception as exc:  # nbformat raises many kinds for broken old files
            raise NotebookError.single(
                "old-format",
                f"notebook format {major} could not be upgraded to format 4 ({exc}). "
                "Open and save it in JupyterLab to upgrade it.",
                Location(shown),
            ) from None
        upgraded = json.loads(nbformat.writes(upgraded))
        # The upgrade gives each cell a new random id: two reads of one file would then
        # name its cells differently. An old file's cells have no id, and are shown so.
        for cell in upgraded.get("cells") or []:
            if isinstance(cell, dict):
                cell.pop("id", None)
        return upgraded
    raise NotebookError.single(
        "unsupported-format",
        f"notebook format {major!r} is not supported; liminal-jupyter reads format 4.",
        Location(shown),
    )


def _check_kernel(metadata: dict[str, Any], shown: str) -> str:
    # Metadata of the wrong shape (a kernelspec that is a string) is ignored, as Jupyter
    # ignores it: the notebook still opens there, with the default kernel.
    spec = _object(metadata.get("kernelspec"))
    info = _object(metadata.get("language_info"))
    language = (_text(spec.get("language")) or _text(info.get("name")) or "python").lower()
    if language not in PYTHON_LANGUAGES:
        raise NotebookError.single(
            "not-python",
            f"the notebook's kernel language is {language!r}; liminal-jupyter builds pipelines "
            "from Python notebooks only.",
            Location(shown),
        )
    return _text(spec.get("name")) or "python3"


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _cell(index: int, raw: Any, shown: str) -> Cell:
    if not isinstance(raw, dict):
        raise NotebookError.single(
            "not-a-notebook", f"cell {index + 1} is not a JSON object.", Location(shown, index)
        )
    source = raw.get("source", "")
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    tags = _object(raw.get("metadata")).get("tags") or []
    if not isinstance(tags, list):
        tags = []
    cell_id = raw.get("id")
    return Cell(
        index=index,
        id=str(cell_id) if cell_id is not None else None,
        cell_type=str(raw.get("cell_type", "code")),
        source=str(source),
        tags=tuple(str(t) for t in tags),
    )
