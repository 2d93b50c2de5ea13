"""A step's working directory away from the notebook: made, filled, harvested, removed.

Every engine whose tasks do not run in the notebook's folder (kfp-local, KFP, Airflow) runs
a step the same way, so it lives here once:

1. a fresh temporary folder (or $LIMINAL_WORKDIR / the engine's choice, kept afterwards);
2. the workspace archive unpacked into it (workspace_pack.py), then the files earlier steps
   wrote that this step reads (its 'file' inputs, from their output folders' `files/`);
3. what it holds is noted (size and mtime per file);
4. after the step, files created or changed under it are its file outputs: copied into
   OUT/files/ (size-capped, a warning beyond), listed in its manifest;
5. a temporary folder is removed.

The kernel starts in the folder, so relative paths resolve there and IPython puts it on
the import path: `import helpers` finds helpers.py as it does beside the notebook.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liminal_jupyter.step.workspace import excluded

FILES = "files"  # in a step's output folder: the files the step wrote, by relative path
FILES_CAP = 100 << 20  # bytes of file outputs kept per step; more is a warning


@dataclass
class StepFolder:
    path: Path
    temporary: bool
    baseline: dict[str, tuple[int, int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # file outputs, once collected
    warnings: list[str] = field(default_factory=list)


@contextmanager
def step_folder(workspace: dict[str, Any] | None, file_inputs: dict[str, Path],
                out: Path, preferred: str | None = None,
                storage_options: dict[str, Any] | None = None) -> Iterator[StepFolder]:
    """The step's working directory for the `with` block; file outputs collected after it
    into OUT/files/ (whether the step succeeded or not: a failed step's files help).

    file_inputs: workspace path -> the output folder of the step that wrote it.
    storage_options: fsspec's, for a workspace archive at a URL.
    """
    from liminal_jupyter.step.runtime import StepFailed
    from liminal_jupyter.step.workspace_pack import WorkspaceError, unpack_workspace

    chosen = next((c for c in (os.environ.get("LIMINAL_WORKDIR"), preferred)
                   if c and Path(c).is_dir()), None)
    folder = StepFolder(Path(chosen or tempfile.mkdtemp(prefix="liminal-workdir-")).resolve(),
                        temporary=chosen is None)
    try:
        if workspace:
            try:
                unpack_workspace(workspace, folder.path, storage_options)
            except WorkspaceError as exc:
                raise StepFailed(str(exc)) from None
        for path, producer in sorted(file_inputs.items()):
            _hand_over(path, producer, folder.path)
        folder.baseline = snapshot(folder.path)
        try:
            yield folder
        finally:
            folder.files, folder.warnings = collect_files(folder.path, folder.baseline, out)
            for warning in folder.warnings:
                print(f"liminal: warning: {warning}", file=sys.stderr, flush=True)
    finally:
        if folder.temporary:
            shutil.rmtree(folder.path, ignore_errors=True)


def _hand_over(path: str, producer: Path, workdir: Path) -> None:
    """A file an earlier step wrote, into this step's folder at the same relative path."""
    from liminal_jupyter.step.runtime import StepFailed

    source = producer / FILES / path.rstrip("/")
    target = workdir / path.rstrip("/")
    if not source.exists():
        raise StepFailed(f"'{path}' was to come from the step that writes it, but its output "
                         f"folder {producer} has no {FILES}/{path}: did that step write it?")
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, target)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime in ns) of every file under `folder`."""
    found = {}
    for current, dirs, names in os.walk(folder):
        base = Path(current)
        relative = base.relative_to(folder).as_posix()
        prefix = "" if relative == "." else relative + "/"
        dirs[:] = [d for d in dirs if not excluded(f"{prefix}{d}/", ())]
        for name in names:
            path = base / name
            if path.is_symlink() or not path.is_file():
                continue
            stat = path.stat()
            found[prefix + name] = (stat.st_size, stat.st_mtime_ns)
    return found


def snapshot_paths(folder: Path, paths: list[str]) -> dict[str, tuple[int, int]]:
    """snapshot() of only these paths under `folder` (files, or folders and their files):
    a local step runs in the notebook's folder, which may hold far more than it writes."""
    found = {}
    for path in paths:
        target = folder / path.rstrip("/")
        if target.is_symlink():
            continue
        if target.is_dir():
            prefix = path.rstrip("/") + "/"
            found.update({prefix + p: s for p, s in snapshot(target).items()})
        elif target.is_file():
            stat = target.stat()
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def collect_files(workdir: Path, baseline: dict[str, tuple[int, int]], out: Path,
                  cap: int = FILES_CAP, paths: list[str] | None = None
                  ) -> tuple[list[str], list[str]]:
    """Copy files created or changed since `baseline` into OUT/files/; (kept, warnings).
    paths: look only there (snapshot_paths), else the whole of `workdir`.

    Smallest first within the cap, so one huge file does not push out every report; what
    does not fit is named in the warning (with the fix)."""
    now = snapshot(workdir) if paths is None else snapshot_paths(workdir, paths)
    changed = {p: s for p, s in now.items() if baseline.get(p) != s}
    kept, skipped, total = [], [], 0
    for path, (size, _) in sorted(changed.items(), key=lambda item: (item[1][0], item[0])):
        if total + size > cap:
            skipped.append(path)
            continue
        target = out / FILES / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(workdir / path, target)
        kept.append(path)
        total += size
    warnings = []
    if skipped:
        warnings.append(
            f"{len(skipped)} file(s) the step wrote are not kept ({', '.join(sorted(skipped)[:5])}"
            f"{', ...' if len(skipped) > 5 else ''}): a step keeps at most "
            f"{cap / (1 << 20):.0f} MiB of files. Save big results as variables (they travel "
            "as artifacts) or write them to object storage.")
    return sorted(kept), warnings
