"""The workspace on disk: which files of the notebook's folder a step names, and their hashes.

The analysis (notebook/workspace.py) lists each step's workspace files as POSIX paths
relative to the notebook's folder, folders ending in "/". This module is what every
engine shares about those paths once they exist on disk: the `liminal.exclude` matcher
and content hashes (the local cache key includes them, so editing `data/train.csv`
re-runs the steps that read it; packing will address the workspace by the same hashes).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20  # bytes read at a time: a big file is hashed without being held in memory
# Never part of a workspace: the runs ledger beside the notebook and Jupyter's checkpoints.
ALWAYS_EXCLUDED = (".liminal", ".ipynb_checkpoints", "__pycache__")


def excluded(path: str, patterns: Iterable[str]) -> bool:
    """Whether a workspace path (relative, POSIX, folders may end in "/") is left out.

    A pattern is an fnmatch pattern over the whole relative path (`*` also crosses "/",
    so `*.parquet` excludes every parquet file); a pattern that matches a folder excludes
    everything in it. ALWAYS_EXCLUDED names are left out wherever they appear.
    """
    pure = PurePosixPath(path.rstrip("/"))
    if any(part in ALWAYS_EXCLUDED for part in pure.parts):
        return True
    candidates = [str(pure), *(str(p) for p in pure.parents if str(p) != ".")]
    return any(fnmatchcase(c, pattern.rstrip("/")) for pattern in patterns for c in candidates)


def hash_workspace_files(
    folder: str | os.PathLike[str], paths: Iterable[str], exclude: Iterable[str] = ()
) -> dict[str, str]:
    """{path: sha256 hex} for workspace paths under `folder`, each file read once.

    A file hashes its bytes; a folder hashes its files' sorted relative paths and contents
    (excluded ones left out), so renaming, adding or editing a file inside changes it. A
    path that vanished since the analysis hashes to "missing" rather than failing: the
    step will then fail (or not) on its own, and its key still differs from a run that
    had the file.
    """
    root = Path(folder)
    patterns = list(exclude)
    found: dict[str, str] = {}
    for path in sorted(set(paths)):
        target = root / path
        if path.endswith("/") and target.is_dir():
            found[path] = _folder_hash(target, path, patterns)
        elif target.is_file():
            found[path] = _file_hash(target)
        else:
            found[path] = "missing"
    return found


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_hash(folder: Path, prefix: str, patterns: list[str]) -> str:
    digest = hashlib.sha256()
    files = []
    for current, dirs, names in os.walk(folder):
        relative = Path(current).relative_to(folder).as_posix()
        base = prefix if relative == "." else f"{prefix}{relative}/"
        dirs[:] = sorted(d for d in dirs if not excluded(f"{base}{d}/", patterns))
        files += [(f"{base}{n}", Path(current) / n) for n in names
                  if not excluded(f"{base}{n}", patterns)]
    for name, path in sorted(files):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update((_file_hash(path) if path.is_file() else "missing").encode("ascii"))
    return digest.hexdigest()
