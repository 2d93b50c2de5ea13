"""The workspace, packed for an engine whose steps do not run in the notebook's folder.

KFP and Airflow compile the same way: pack the files the steps name into
content-addressed archives (step/workspace_pack.py): one for the whole workspace, or, for
KFP when it is small, one per set of files steps name (KFP's task cache then follows the
files each step reads); small archives travel inside the
compiled pipeline, larger ones are stored at a folder (a path or an fsspec URL) the steps
fetch from. A problem with a file is a CompileError at compile time, not a failure in a pod.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from liminal_jupyter.engines.compiling import CompileError
from liminal_jupyter.step.workspace_pack import (
    EMBED_LIMIT,
    WorkspaceError,
    pack_workspace,
    store_archive,
    workspace_paths,
    workspace_reference,
)


def packed_workspace(pipeline: Any, *, uri: str | None = None, default_uri: str | None = None,
                     embed: bool = True) -> tuple[dict[str, Any] | None, list[str]]:
    """(the reference each step carries, notes), or (None, []) when no step names a file.

    uri: where a large archive goes (--workspace-uri), else the notebook's
    liminal.workspace_uri, else `default_uri` (an engine's own place, e.g. the run
    folder). embed: small archives (< 1 MiB) travel inside the compiled pipeline; an
    engine with a shared disk may store every archive instead.
    """
    paths = workspace_paths(pipeline)
    if not paths:
        return None, []
    return _pack(pipeline, paths, uri, default_uri, embed)


def step_workspaces(pipeline: Any, *, uri: str | None = None, default_uri: str | None = None,
                    embed: bool = True) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """({step: the reference of the archive it unpacks}, notes).

    When the whole workspace is small enough to embed, each step carries an archive of
    its own files (steps naming the same files share one), so an orchestrator that caches
    tasks by their definition (KFP) re-runs only the steps whose files changed, as a local
    run does. A larger workspace is packed and stored once, for every step: packing and
    uploading it per set of files would multiply the cost of compiling.
    """
    whole, notes = packed_workspace(pipeline, uri=uri, default_uri=default_uri, embed=embed)
    if whole is None:
        return {}, []
    if "embedded" not in whole:
        return {s.name: whole for s in pipeline.steps if s.files}, notes
    groups: dict[tuple[str, ...], list[str]] = {}
    for step in pipeline.steps:
        if step.files:
            groups.setdefault(tuple(step.files), []).append(step.name)
    references: dict[str, dict[str, Any]] = {}
    for files, steps in groups.items():
        reference, more = _pack(pipeline, list(files), uri, default_uri, embed)
        references.update(dict.fromkeys(steps, reference))
        notes += [n for n in more if n not in notes]
    return references, notes


def _pack(pipeline: Any, paths: list[str], uri: str | None, default_uri: str | None,
          embed: bool) -> tuple[dict[str, Any], list[str]]:
    folder = Path(pipeline.notebook).resolve().parent
    owners = {path: _named_by(pipeline, path) for path in paths}
    target = uri or (pipeline.settings or {}).get("workspace_uri") or default_uri
    with tempfile.TemporaryDirectory(prefix="liminal-pack-") as staging:
        try:
            packed = pack_workspace(folder, paths, staging,
                                    exclude=(pipeline.settings or {}).get("exclude") or [],
                                    owners=owners)
        except WorkspaceError as exc:
            raise CompileError(f"notebook {pipeline.notebook}: {exc}") from None
        if embed and packed.size < EMBED_LIMIT:
            return workspace_reference(packed, None), packed.warnings
        if not target:
            raise CompileError(
                f"notebook {pipeline.notebook}: the workspace archive is "
                f"{packed.size / (1 << 20):.1f} MiB, too big to travel inside the compiled "
                "pipeline (under 1 MiB does). Give a folder the steps can read it from: "
                "--workspace-uri s3://bucket/folder (any fsspec URL, or a shared path), or "
                "the notebook's liminal.workspace_uri setting.")
        try:
            store_archive(packed, str(target))
        except (OSError, ImportError, ValueError) as exc:
            raise CompileError(f"the workspace archive could not be stored at {target}: "
                               f"{type(exc).__name__}: {exc}") from None
        return workspace_reference(packed, str(target)), packed.warnings


def _named_by(pipeline: Any, path: str) -> str:
    """Who names a workspace path, for an error: the first step listing it, and the cell
    and line whose source holds the path's last part (the IR keeps no location per file,
    and a folded path such as `folder + "train.csv"` still shows its file name)."""
    steps = [s for s in pipeline.steps if any(f == path or path.startswith(f) and
                                              f.endswith("/") for f in s.files)]
    if not steps:
        return "liminal.files"
    step = steps[0]
    leaf = path.rstrip("/").rsplit("/", 1)[-1]
    part = pipeline.part(step)
    for cell in [*part.parameter_cells, *part.prelude, *step.cells]:
        for number, text in enumerate(cell.source.splitlines(), start=1):
            if leaf in text:
                return (f"step '{step.name}', notebook cell {cell.index} (id {cell.id}), "
                        f"line {number}")
    return f"step '{step.name}'"
