"""The workspace as one archive: packed at compile time, unpacked in every step's folder.

Engines other than local run a step where the notebook's folder is not: a pod, a kfp.local
task, an Airflow worker. The files the steps name (`Step.files`, notebook/workspace.py) are
packed into one tar.gz whose bytes depend on their content only (sorted entries, mtime 0,
uid/gid 0, no owner names, gzip without a timestamp), so the same files give the same
sha256, which names the archive and is checked again when a step unpacks it.

Only the standard library at import time (a step pays for fsspec only when it fetches
from a URL).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liminal_jupyter.step.workspace import excluded

EMBED_LIMIT = 1 << 20  # archives smaller than this travel inside the compiled pipeline
LARGE = 200 << 20  # a workspace this big is a warning: every step fetches it
_URL_PREFIX = ("s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://",
               "memory://", "file://")


class WorkspaceError(ValueError):
    """A workspace that cannot be packed or unpacked; the message says which file and why."""


@dataclass
class PackedWorkspace:
    """An archive on disk, by content: `name` is `workspace-<sha256>.tar.gz`."""

    path: Path
    sha256: str
    size: int  # bytes of the archive
    content_size: int  # bytes of the files packed
    files: list[str] = field(default_factory=list)  # the files packed, relative, sorted
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return archive_name(self.sha256)


def archive_name(sha256: str) -> str:
    return f"workspace-{sha256}.tar.gz"


def workspace_paths(pipeline: Any) -> list[str]:
    """The union of the steps' workspace files, sorted (a folder covers what is in it)."""
    paths = {p for step in pipeline.steps for p in step.files}
    folders = [p for p in paths if p.endswith("/")]
    return sorted(p for p in paths if not any(p != f and p.startswith(f) for f in folders))


# --------------------------------------------------------------------------------------
# Packing


def pack_workspace(folder: str | os.PathLike[str], paths: Iterable[str],
                   dest: str | os.PathLike[str], *, exclude: Iterable[str] = (),
                   owners: dict[str, str] | None = None,
                   warn_above: int = LARGE) -> PackedWorkspace:
    """Pack `paths` (workspace paths under `folder`) into DEST/workspace-<sha256>.tar.gz.

    owners: path -> who names it (a step, a cell and line), for the error when a file is
    missing. warn_above: files totalling more than this many bytes are a warning.
    Raises WorkspaceError for a missing file or a symlink out of the folder.
    """
    root = Path(os.path.abspath(folder))
    real_root = Path(os.path.realpath(root))
    patterns = list(exclude)
    files = _expand(root, real_root, sorted(set(paths)), patterns, owners or {})
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    raw = tempfile.NamedTemporaryFile(dir=dest, prefix=".workspace-", suffix=".tmp", delete=False)
    digest, content = hashlib.sha256(), 0
    try:
        with raw, _HashingWriter(raw, digest) as sink, \
                gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0,
                              compresslevel=6) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for relative, source in files:
                content += _add(tar, relative, source)
        sha = digest.hexdigest()
        target = dest / archive_name(sha)
        os.replace(raw.name, target)
    except BaseException:
        Path(raw.name).unlink(missing_ok=True)
        raise
    warnings = []
    if content > warn_above:
        warnings.append(
            f"the workspace is {content / (1 << 20):.0f} MiB ({len(files)} files): every step "
            "fetches and unpacks it. Leave big files out with the notebook's liminal.exclude "
            "setting (globs relative to the notebook) and read them from object storage "
            "instead.")
    return PackedWorkspace(target, sha, target.stat().st_size, content,
                           [r for r, _ in files], warnings)


class _HashingWriter(io.RawIOBase):
    """Writes through to a file while hashing: the archive is read once, as it is made."""

    def __init__(self, target: Any, digest: Any):
        self.target, self.digest = target, digest

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return self.target.write(data)


def _expand(root: Path, real_root: Path, paths: list[str], patterns: list[str],
            owners: dict[str, str]) -> list[tuple[str, Path]]:
    """(archive name, file on disk) for every file the paths name, folders walked, sorted."""
    found: dict[str, Path] = {}
    for path in paths:
        target = root / path.rstrip("/")
        if not os.path.lexists(target):
            who = f" (named by {owners[path]})" if path in owners else ""
            raise WorkspaceError(
                f"workspace file '{path}'{who} does not exist in {root}: it was there when the "
                "notebook was analysed. Restore it, or leave it out with liminal.exclude.")
        _inside(real_root, target, path)
        if target.is_dir():
            for relative, source in _walk(root, real_root, target, patterns):
                found[relative] = source
        elif not excluded(path, patterns):
            if not os.access(target, os.R_OK):
                raise WorkspaceError(f"workspace file '{path}' in {root} cannot be read "
                                     "(permission denied).")
            found[path] = target
    return sorted(found.items())


def _walk(root: Path, real_root: Path, folder: Path,
          patterns: list[str]) -> Iterable[tuple[str, Path]]:
    seen: set[str] = set()
    for current, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:  # a symlink loop inside the folder
            dirs[:] = []
            continue
        seen.add(real)
        base = Path(current)
        relative_base = base.relative_to(root).as_posix()
        for d in list(dirs):
            _inside(real_root, base / d, f"{relative_base}/{d}")
        dirs[:] = sorted(d for d in dirs if not excluded(f"{relative_base}/{d}/", patterns))
        for name in sorted(names):
            relative = f"{relative_base}/{name}"
            if excluded(relative, patterns):
                continue
            _inside(real_root, base / name, relative)
            if (base / name).is_file():
                yield relative, base / name


def _inside(real_root: Path, path: Path, relative: str) -> None:
    real = Path(os.path.realpath(path))
    if real != real_root and real_root not in real.parents:
        raise WorkspaceError(
            f"workspace path '{relative}' is a symlink to {real}, outside the notebook's "
            f"folder {real_root}: it is never packed. Copy the file into the folder, or leave "
            "it out with liminal.exclude.")


def _add(tar: tarfile.TarFile, relative: str, source: Path) -> int:
    """One regular file with fixed metadata (a symlink inside the folder is its content)."""
    stat = source.stat()
    info = tarfile.TarInfo(relative)
    info.size, info.mtime, info.uid, info.gid = stat.st_size, 0, 0, 0
    info.uname = info.gname = ""
    info.mode = 0o755 if stat.st_mode & 0o111 else 0o644
    with source.open("rb") as handle:
        tar.addfile(info, handle)
    return stat.st_size


# --------------------------------------------------------------------------------------
# Where the archive travels


def workspace_reference(packed: PackedWorkspace, uri: str | None) -> dict[str, Any]:
    """What a compiled step carries: the archive itself (base64) when small, else where
    to fetch it. Storing it at `uri` (a folder: a path or an fsspec URL) is the caller's
    choice: `store_archive`."""
    reference: dict[str, Any] = {"sha256": packed.sha256, "size": packed.size,
                                 "files": len(packed.files)}
    if uri is None:
        reference["embedded"] = base64.b64encode(packed.path.read_bytes()).decode("ascii")
    else:
        reference["uri"] = uri.rstrip("/") + "/" + packed.name
    return reference


def is_url(location: str) -> bool:
    return location.startswith(_URL_PREFIX) or "://" in location


def store_archive(packed: PackedWorkspace, folder: str) -> str:
    """Copy the archive into `folder` (a path or an fsspec URL); its full location."""
    location = folder.rstrip("/") + "/" + packed.name
    if not is_url(folder):
        target = Path(folder) / packed.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.stat().st_size != packed.size:
            shutil.copyfile(packed.path, target)
        return str(target)
    import fsspec

    fs, path = fsspec.core.url_to_fs(location)
    if not fs.exists(path):
        fs.put_file(str(packed.path), path)
    return location


# --------------------------------------------------------------------------------------
# Unpacking, in the step


def unpack_workspace(reference: dict[str, Any], workdir: str | os.PathLike[str],
                     storage_options: dict[str, Any] | None = None) -> list[str]:
    """Fetch (or decode) the archive, check its sha256, extract it into `workdir`.
    storage_options: fsspec's, for a URL (credentials from an Airflow connection).

    Returns the files extracted. Raises WorkspaceError when the archive cannot be fetched,
    its content is not the one compiled in (a changed or truncated upload), or an entry
    would land outside `workdir`.
    """
    data = _archive_bytes(reference, storage_options or {})
    sha = hashlib.sha256(data).hexdigest()
    if sha != reference.get("sha256"):
        raise WorkspaceError(
            f"the workspace archive's sha256 is {sha}, not {reference.get('sha256')} as "
            "compiled: it was changed or truncated after compiling. Compile again.")
    target = Path(workdir)
    names = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            path = Path(os.path.normpath(target / member.name))
            if not member.isfile() or target.resolve() not in path.resolve().parents:
                raise WorkspaceError(f"workspace archive entry '{member.name}' is not a "
                                     "plain file inside the working directory; refused.")
            names.append(member.name)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.11.4; entries were checked above
            tar.extractall(target, members=members)
    return names


def _archive_bytes(reference: dict[str, Any], storage_options: dict[str, Any]) -> bytes:
    if "embedded" in reference:
        return base64.b64decode(reference["embedded"])
    location = str(reference.get("uri") or "")
    try:
        if not is_url(location):
            return Path(location).read_bytes()
        import fsspec

        with fsspec.open(location, "rb", **storage_options) as handle:
            return handle.read()
    except (OSError, ImportError, ValueError) as exc:
        raise WorkspaceError(f"the workspace archive {location or '(no location)'} cannot "
                             f"be read: {type(exc).__name__}: {exc}") from None
