"""Atomic writes: a reader, a later run or the cache sees the old file or the new one.

The contract (DESIGN.md): a run killed at any moment leaves no half-written file that a
later run trusts. Every record and manifest we write goes through here: a temporary name
in the same folder, fsync, `os.replace`, then fsync of the folder so the rename survives.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


def temporary_name(path: Path) -> Path:
    """A hidden, unique sibling of `path` (same folder, so `os.replace` is atomic)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        if str(exc.filename) == str(tmp):  # say the file the caller asked for, not our temporary
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        _discard(tmp)
        raise
    fsync_directory(path.parent)


def _discard(tmp: Path) -> None:
    """Remove a temporary file after a failed write; on a read-only disk even unlinking a
    file that was never created fails, and that must not replace the write's own error."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


def write_json(path: str | os.PathLike[str], data: Any, default: Any = None) -> None:
    """JSON, atomically; `default` converts values json cannot (as in json.dumps)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=default))


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename durable where the OS allows it (POSIX); best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
