"""Workspace files: the files beside the notebook that each step's code names.

Locally a step runs in the notebook's folder; on other engines its working directory must
hold the same files, so the analysis finds them with no declaration in the common case:

- string values the code uses that name an existing file or folder under the notebook's
  folder. Values are folded where that is simple: a name bound to a string at the top
  level of an earlier cell (`folder = "data/"`), `+`, `/` on paths, `os.path.join`,
  `Path(...)`, `"{}".format(...)` and f-strings whose parts fold. A top-level binding
  itself (`folder = "data/"`) is not a use: the step that uses the name is the one that
  needs the file. The folder itself (`"."`) never counts, nor does a path the code
  writes (`df.to_csv("out.csv")`, `open(p, "w")`);
- local modules the code imports (`import utils` with `utils.py`, or a package folder with
  `__init__.py`, beside the notebook), and the local modules those import in turn.

Only candidates are checked on disk (one stat each), never a walk of the folder, so
`inspect` stays fast. A value naming something that exists outside the folder (`../x`,
an absolute path, a symlink out) is a `workspace-escape` warning and is never listed.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from liminal_jupyter.diagnostics import Diagnostics
from liminal_jupyter.notebook.reader import Cell, RawNotebook
from liminal_jupyter.step.workspace import excluded

_MAX_PATH = 1024  # longer strings are text, not paths: not worth a stat
_SYSTEM = ("/dev/", "/proc/", "/sys/")  # system paths a notebook may name, never data
_SIMPLE_TEMPLATE = re.compile(r"(?:[^{}]|\{\d*\})*")
# Calls whose path arguments are written (pandas, numpy, matplotlib, joblib, torch, os).
_WRITE_CALLS = {
    "to_csv", "to_parquet", "to_json", "to_excel", "to_pickle", "to_feather", "to_hdf",
    "to_html", "to_latex", "to_markdown", "to_xml", "to_stata", "to_netcdf", "to_zarr",
    "savefig", "save", "savez", "savez_compressed", "savetxt", "dump", "save_model",
    "imwrite", "write_image", "write_html", "mkdir", "makedirs",
}
_WRITE_RECEIVER = {"write_text", "write_bytes", "touch", "mkdir"}  # Path(p).write_text(...)
_PATH_CALLS = {"join", "Path", "PurePath", "PosixPath", "PurePosixPath"}


@dataclass
class CellFiles:
    """What one cell's code names: workspace paths, and the modules it imports."""

    files: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)  # top-level module names it imports
    # Relative paths (normalised, existing or not) the code reads and writes: a path a step
    # writes and a later step reads is a file edge (notebook/parse.py).
    mentions: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)


@dataclass
class _Scan:
    values: list[tuple[str, int]] = field(default_factory=list)  # (folded value, line)
    rebound: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    writes: list[str] = field(default_factory=list)  # folded values of paths written


class WorkspaceFinder:
    """Finds the workspace files of cells, in notebook order (bindings flow downwards)."""

    def __init__(self, nb: RawNotebook, folder: Path, diags: Diagnostics):
        self.nb = nb
        self.folder = Path(os.path.abspath(folder))
        self.real_folder = Path(os.path.realpath(folder))
        self.notebook_name = Path(nb.path).name
        self.diags = diags
        self.constants: dict[str, str] = {}
        self.modules: dict[str, list[str]] = {}  # module name -> its workspace files
        self.warned: set[tuple[int, int | None, str]] = set()

    # -- cells --------------------------------------------------------------------------
    def cell(self, cell: Cell, tree: ast.Module, step: str | None) -> CellFiles:
        """The files one cell names; then its top-level bindings join the constants."""
        found = CellFiles()
        for stmt in tree.body:
            bound = self._binding(stmt)
            scan = _Scan()
            if not bound:  # `folder = "data/"` names no file: the code using `folder` does
                self._scan(stmt, scan)
            for value, line in scan.values:
                path = self._resolve(value, cell, line, step)
                if path:
                    found.files.add(path)
                if (relative := relative_path(value)) is not None:
                    found.mentions.add(relative)
            found.writes |= {r for v in scan.writes if (r := relative_path(v)) is not None}
            for name in scan.rebound:  # no longer holds its constant
                self.constants.pop(name, None)
            found.modules |= scan.modules
            if bound:
                self.constants[bound[0]] = bound[1]
        return found

    def module_files(self, names: Iterable[str]) -> set[str]:
        """Workspace files of local modules by name, with the local modules they import."""
        files: set[str] = set()
        for name in names:
            files.update(self._module(name, depth=0))
        return files

    # -- constant folding ---------------------------------------------------------------
    def fold(self, node: ast.AST) -> str | None:
        """The string an expression always evaluates to, when simple folding can tell.

        Results longer than a path can be are dropped as they grow, so `x = x + x` chains
        cannot make the analysis build huge strings.
        """
        value = self._fold(node)
        return value if value is None or len(value) <= _MAX_PATH else None

    def _fold(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Div):
            left, right = self.fold(node.left), self.fold(node.right)
            if left is None or right is None:
                return None
            return left + right if isinstance(node.op, ast.Add) else posixpath.join(left, right)
        if isinstance(node, ast.JoinedStr):
            return self._fold_fstring(node)
        if isinstance(node, ast.Call):
            return self._fold_call(node)
        return None

    def _fold_fstring(self, node: ast.JoinedStr) -> str | None:
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.format_spec is not None or value.conversion not in (-1, ord("s")):
                    return None
                value = value.value
            part = self.fold(value)
            if part is None:
                return None
            parts.append(part)
        return "".join(parts)

    def _fold_call(self, node: ast.Call) -> str | None:
        if node.keywords:
            return None
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        args = [self.fold(a) for a in node.args]
        if None in args:
            return None
        if name == "format" and isinstance(func, ast.Attribute):
            template = self.fold(func.value)
            if template is None or not _SIMPLE_TEMPLATE.fullmatch(template):
                return None  # only {} and {0}: a format spec could build anything
            try:
                return template.format(*args)
            except (IndexError, ValueError):
                return None
        if name in _PATH_CALLS and args and (name != "join" or _is_path_join(func)):
            return posixpath.join(*args)
        return None

    def _binding(self, stmt: ast.stmt) -> tuple[str, str] | None:
        """(name, value) of a top-level `name = <folds to a string>`."""
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None and stmt.simple:
            target = stmt.target
        else:
            return None
        if not isinstance(target, ast.Name):
            return None
        value = self.fold(stmt.value)
        return (target.id, value) if value is not None else None

    def _scan(self, node: ast.AST, scan: _Scan) -> None:
        """One walk of a statement: the largest expressions that fold (outside keys,
        separators and paths written), the names it rebinds and the modules it imports."""
        if isinstance(node, ast.expr):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                scan.rebound.add(node.id)
                return
            value = self.fold(node)
            if value is not None:
                scan.values.append((value, getattr(node, "lineno", 1)))
            if value is not None or isinstance(node, ast.Name | ast.Constant):
                return
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scan.rebound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            scan.modules |= imported_roots(node)
            scan.rebound |= {(a.asname or a.name).partition(".")[0] for a in node.names}
            return
        written: set[int] = set()
        if isinstance(node, ast.Call):
            written = {id(n) for n in self._written(node)}
            if isinstance(node.func, ast.Attribute) and id(node.func.value) in written:
                written.add(id(node.func))  # Path(p).write_text(...): p is written
            scan.writes += [v for n in self._written(node) if (v := self.fold(n)) is not None]
        for name, child in ast.iter_fields(node):
            if isinstance(node, ast.Subscript) and name == "slice" or isinstance(
                    node, ast.Dict) and name == "keys":
                continue  # df["age"], {"data": ...}: keys, not paths
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Constant):
                continue  # "/".join(parts): a separator, not a path
            for item in child if isinstance(child, list) else [child]:
                if isinstance(item, ast.keyword):
                    item = item.value
                if isinstance(item, ast.AST) and id(item) not in written:
                    self._scan(item, scan)

    def _written(self, call: ast.Call) -> list[ast.AST]:
        """The arguments of a call that writes a file rather than reading it.

        `df.to_csv("out.csv")`, `open(p, "w")`, `Path(p).write_text(...)`: a file a step
        writes is no input of it (it may not exist yet, and its new content must not change
        the step's own cache key); files steps hand each other are a separate concern.
        """
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        receiver = [func.value] if isinstance(func, ast.Attribute) else []
        if name == "open":
            return self._opened_for_writing(call, receiver)
        found: list[ast.AST] = []
        if name in _WRITE_RECEIVER:
            found += receiver
        if name in _WRITE_CALLS:
            found += [*call.args, *(k.value for k in call.keywords)]
        return found

    def _opened_for_writing(self, call: ast.Call, receiver: list[ast.AST]) -> list[ast.AST]:
        """`open(p, "w")` -> [p]; `Path(p).open("w")` -> [Path(p)]; [] when reading."""
        args = [self.fold(a) for a in call.args[:2]]
        method = bool(receiver) and bool(args) and args[0] is not None and _is_mode(args[0])
        mode = args[0] if method else (args[1] if len(args) > 1 else None)
        keyword = next((k.value for k in call.keywords if k.arg == "mode"), None)
        if keyword is not None:
            mode = self.fold(keyword)
        if mode is None or not set(mode) & set("wax"):
            return []
        return receiver if method or not call.args else call.args[:1]

    # -- paths --------------------------------------------------------------------------
    def _resolve(self, value: str, cell: Cell, line: int, step: str | None) -> str | None:
        """The workspace path a value names, or None; warns when it names an outside path."""
        if not value or len(value) > _MAX_PATH or "\n" in value or "\0" in value \
                or "://" in value:
            return None
        absolute = os.path.isabs(value)
        normal = os.path.normpath(value if absolute else os.path.join(self.folder, value))
        try:
            if not os.path.lexists(normal):
                return None
        except (OSError, ValueError):
            return None
        if absolute and (normal in ("/", "/tmp") or normal.startswith(_SYSTEM)):
            return None
        real = Path(os.path.realpath(normal))
        lexical = Path(normal)
        if absolute or self.folder not in lexical.parents:
            if lexical != self.folder:  # "." or the folder itself names no file
                self._escape(value, cell, line, step, "absolute" if absolute else "outside")
            return None
        if real != self.real_folder and self.real_folder not in real.parents:
            self._escape(value, cell, line, step, f"symlink to {real}")
            return None
        relative = lexical.relative_to(self.folder).as_posix()
        if relative == self.notebook_name or excluded(relative, ()):
            return None
        return relative + "/" if os.path.isdir(normal) else relative

    def _escape(self, value: str, cell: Cell, line: int, step: str | None, kind: str) -> None:
        key = (cell.index, line, value)
        if key in self.warned:
            return
        self.warned.add(key)
        if kind == "absolute":
            why = "is an absolute path"
        elif kind == "outside":
            why = "is outside the notebook's folder"
        else:
            why = f"is a {kind}, outside the notebook's folder"
        self.diags.warning(
            "workspace-escape",
            f"'{value}' {why}, so it is not part of the workspace: on an engine other than "
            "local the step will not find it. Put the file in the notebook's folder and name "
            "it by a relative path, or pass its location as a parameter.",
            self.nb.location(cell, line), step,
        )

    # -- local modules ------------------------------------------------------------------
    def _module(self, name: str, depth: int) -> list[str]:
        if name in self.modules:
            return self.modules[name]
        self.modules[name] = []  # guards against import cycles
        files: list[str] = []
        source = None
        if (self.folder / f"{name}.py").is_file():
            files.append(f"{name}.py")
            source = self.folder / f"{name}.py"
        elif (self.folder / name / "__init__.py").is_file():
            files.append(f"{name}/")
            source = self.folder / name / "__init__.py"
        if source is not None and depth < 10:
            for other in _module_imports(source):
                files += self._module(other, depth + 1)
        self.modules[name] = files
        return files


def written_by_cell_magic(source: str) -> set[str]:
    """The file a `%%writefile [-a] PATH` cell writes (IPython's magic; its body is not
    Python, so no call in it says so), as a relative path; empty for any other cell."""
    first = source.lstrip().partition("\n")[0]
    words = first.split()
    if not words or words[0] != "%%writefile":
        return set()
    paths = [w for w in words[1:] if not w.startswith("-")]
    relative = relative_path(paths[0].strip("'\"")) if len(paths) == 1 else None
    return {relative} if relative else set()


def relative_path(value: str) -> str | None:
    """A value as a normalised path relative to the notebook's folder, or None when it
    cannot be one (absolute, a URL, leaving the folder, the folder itself, not a path)."""
    if not value or len(value) > _MAX_PATH or "\n" in value or "\0" in value \
            or "://" in value or os.path.isabs(value):
        return None
    normal = posixpath.normpath(value.replace(os.sep, "/"))
    if normal == "." or normal == ".." or normal.startswith("../"):
        return None
    return normal


def imported_roots(node: ast.AST) -> set[str]:
    """Top-level names of the modules an import statement imports (absolute imports)."""
    if isinstance(node, ast.Import):
        return {alias.name.partition(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return {node.module.partition(".")[0]}
    return set()


def _module_imports(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        found |= imported_roots(node)
    return found


def _is_mode(text: str) -> bool:
    return 0 < len(text) <= 3 and set(text) <= set("rwxabt+")


def _is_path_join(func: ast.expr) -> bool:
    """`os.path.join` / `path.join` / `osp.join`, not `"-".join` or `", ".join`."""
    return isinstance(func, ast.Attribute) and not isinstance(func.value, ast.Constant) and (
        isinstance(func.value, ast.Attribute) and func.value.attr == "path"
        or isinstance(func.value, ast.Name) and func.value.id in ("path", "osp", "posixpath")
    ) or isinstance(func, ast.Name) and func.id == "join"


def setting_files(nb: RawNotebook, folder: Path, patterns: list[str],
                  diags: Diagnostics) -> set[str]:
    """Workspace paths the `liminal.files` globs match; a glob matching nothing warns."""
    real_folder = Path(os.path.realpath(folder))
    found: set[str] = set()
    for pattern in patterns:
        matched = _glob(folder, real_folder, pattern)
        if matched is None:
            diags.warning(
                "workspace-escape",
                f"notebook metadata liminal.files: '{pattern}' points outside the notebook's "
                "folder; files are given relative to it, and nothing outside it is packed.",
                nb.location(),
            )
        elif not matched:
            diags.warning(
                "workspace-files-unmatched",
                f"notebook metadata liminal.files: '{pattern}' matches no file in the "
                f"notebook's folder ({folder}).",
                nb.location(),
            )
        found |= set(matched or ())
    return found


def _glob(folder: Path, real_folder: Path, pattern: str) -> list[str] | None:
    """Matches of one glob as workspace paths; None when the pattern leaves the folder."""
    if os.path.isabs(pattern) or ".." in Path(pattern).parts:
        return None
    matched = []
    try:
        paths = sorted(folder.glob(pattern))
    except (ValueError, NotImplementedError, OSError):
        return []
    for path in paths:
        real = Path(os.path.realpath(path))
        relative = path.relative_to(folder).as_posix()
        if relative == "." or excluded(relative, ()):
            continue
        if real != real_folder and real_folder not in real.parents:
            continue  # a symlink out: never packed
        matched.append(relative + "/" if path.is_dir() else relative)
    return matched


def covering(paths: Iterable[str]) -> list[str]:
    """Sorted paths, leaving out those inside a listed folder (the folder covers them)."""
    unique = set(paths)
    folders = [p for p in unique if p.endswith("/")]
    return sorted(p for p in unique
                  if not any(p != f and p.startswith(f) for f in folders))
