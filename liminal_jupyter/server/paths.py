"""Notebook paths from requests, confined to the Jupyter server's root dir.

A request names a notebook as JupyterLab's contents API does: relative to the root dir,
'/'-separated. Anything that could reach outside the root is refused before the file
system is touched for it: an absolute path, a `..` component, or a path whose real
location (symlinks followed) lies outside the root.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from jupyter_core.paths import is_hidden

from liminal_jupyter.server.errors import ApiError


def root_of(settings: dict) -> Path:
    """The server's root dir, resolved (symlinks followed), as the confinement boundary."""
    return Path(os.path.expanduser(settings["server_root_dir"])).resolve()


def notebook_path(root: Path, path: object, allow_hidden: bool = False) -> Path:
    """The real path of notebook `path` under `root`.

    403 outside the root, 400 not a .ipynb name (or no name a file system can hold: too
    long, a NUL character), 404 no such notebook. A hidden file or folder (`.name`) is 404
    unless `allow_hidden`, as Jupyter's contents API answers: the IR carries cell sources,
    so this API must not show what the contents API hides.
    """
    if not isinstance(path, str) or not path.strip():
        raise ApiError(400, "give the notebook as 'path', relative to the server's root "
                       "dir, e.g. 'notebooks/train.ipynb'.")
    relative = _relative_parts(path)
    shown = shown_path(path)
    with file_system_errors(path):
        resolved = (root.joinpath(*relative)).resolve()
        if not resolved.is_relative_to(root):
            raise ApiError(403, f"{shown}: the path leads outside the server's root dir "
                           "(through a symbolic link).")
        if not path.endswith((".ipynb", ".yml", ".yaml")):
            raise ApiError(400, f"{shown}: not a notebook; give the path of a .ipynb file "
                           "(or of a liminal.yml pipeline file).")
        missing = ApiError(404, f"{shown}: no such notebook under the server's root dir.")
        if not resolved.is_file():
            raise missing
        if not allow_hidden and is_hidden(str(root.joinpath(*relative)), str(root)):
            raise missing
    return resolved


def shown_path(path: str, limit: int = 200) -> str:
    """`path` as an error message shows it: at most `limit` characters, so a 10,000-character
    name does not become a 10,000-character message."""
    return path if len(path) <= limit else f"{path[:limit]}... ({len(path)} characters)"


@contextmanager
def file_system_errors(path: str) -> Iterator[None]:
    """What the file system says about a name it cannot hold, as a 400 (or 403 when it may
    not be read), never a server error."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ApiError(400, f"{shown_path(path)}: the path is too long for the file "
                           "system (a name over 255 bytes, or a path over 4096).") from None
        if isinstance(exc, PermissionError):
            raise ApiError(403, f"{shown_path(path)}: the server may not read it "
                           f"({exc.strerror}).") from None
        raise ApiError(404, f"{shown_path(path)}: cannot be read ({exc.strerror}).") from None


def relative_to_root(root: Path, path: str | os.PathLike[str] | None) -> str | None:
    """`path` relative to the root, '/'-separated, or None when it is outside (or None)."""
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return None


def inside_root(root: Path, path: str | os.PathLike[str] | None) -> Path | None:
    """The real path of `path` when it lies under the root, else None."""
    if not path:
        return None
    try:
        real = Path(path).resolve()
    except OSError:
        return None
    return real if real.is_relative_to(root) else None


def _relative_parts(path: str) -> tuple[str, ...]:
    if "\x00" in path:
        raise ApiError(400, f"{shown_path(path)!r}: a path cannot hold a NUL character.")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, f"{shown_path(path)!r}: the path is not valid Unicode (a lone "
                       "surrogate).") from None
    posix = PurePosixPath(path)
    if posix.is_absolute() or _has_drive(path):
        raise ApiError(403, f"{shown_path(path)}: absolute paths are refused; give the path "
                       "relative to the server's root dir.")
    if ".." in posix.parts:
        raise ApiError(403, f"{shown_path(path)}: '..' is refused; give the path relative to the "
                       "server's root dir, without '..'.")
    return tuple(part for part in posix.parts if part not in ("", "."))


def _has_drive(path: str) -> bool:
    return len(path) >= 2 and path[1] == ":" and path[0].isalpha()
