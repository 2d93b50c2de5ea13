"""What to test: the notebooks under some paths, and the parameter sets of each.

A notebook is tested with its own defaults and with each parameter set of its matrix: the
`liminal.test` setting in its metadata, or, for the notebooks it names, a `--matrix` file
(which then replaces the notebook's own sets, as a command line overrides a file). Values
are typed and checked by the notebook's parameters cell exactly as `liminal-nb run -p`
does (`liminal_jupyter.params`), so a set that `run` would refuse is refused here, before
anything runs. Everything wrong with the input is a `BadInput`: the command exits 2.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liminal_jupyter.runs.location import LIMINAL_DIR

SKIPPED_FOLDERS = {".ipynb_checkpoints", LIMINAL_DIR}
DEFAULTS = "defaults"
MODES = ("notebook", "pipeline")


class BadInput(ValueError):
    """The paths, the matrix or a parameter set cannot be used; the message says why."""


@dataclass(frozen=True)
class ParameterSet:
    name: str
    values: dict[str, Any] = field(default_factory=dict)  # typed, JSON values only


@dataclass(frozen=True)
class TestCase:
    """One run of one notebook with one parameter set, in one mode."""

    __test__ = False  # not a pytest test class, despite the name

    notebook: Path  # absolute
    display: str  # the notebook as the user named it (relative to the current folder)
    parameter_set: ParameterSet
    mode: str  # "notebook" (straight through papermill) | "pipeline" (the local runner)
    kernel: str
    output_dir: Path
    timeout: float

    @property
    def label(self) -> str:
        suffix = " as pipeline" if self.mode == "pipeline" else ""
        return f"{self.parameter_set.name}{suffix}"

    @property
    def case_id(self) -> str:
        return f"{self.display}[{self.label}]"


def find_notebooks(paths: list[str], exclude: Path | None = None) -> list[Path]:
    """The .ipynb files named, and those under the folders named, in a stable order.

    Checkpoints and run records (.ipynb_checkpoints, .liminal) are skipped, and so is the
    output folder of a test run (its executed notebooks are not tests).
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # A folder with a pipeline file (liminal.yml) is one pipeline: the file is
            # tested, not its notebooks one by one (they read each other's values).
            pipelines = {p.parent: p for p in sorted(path.rglob("liminal.y*ml"))
                         if p.suffix in (".yml", ".yaml") and not _skipped(p, path, exclude)}
            for notebook in sorted(path.rglob("*.ipynb")):
                if _skipped(notebook, path, exclude):
                    continue
                found.append(pipelines.get(notebook.parent, notebook))
        elif path.is_file():
            if path.suffix not in (".ipynb", ".yml", ".yaml"):
                raise BadInput(f"{raw}: not a notebook (expected a .ipynb file or a folder).")
            found.append(path)
        else:
            raise BadInput(f"{raw}: no such file or folder.")
    unique: dict[Path, Path] = {}
    for notebook in found:
        unique.setdefault(notebook.resolve(), notebook)
    if not unique:
        raise BadInput(f"no notebooks (.ipynb) found under {', '.join(paths)}.")
    return list(unique.values())


def _skipped(notebook: Path, root: Path, exclude: Path | None) -> bool:
    relative = notebook.relative_to(root).parts[:-1]
    if any(part in SKIPPED_FOLDERS for part in relative):
        return True
    return exclude is not None and notebook.resolve().is_relative_to(exclude.resolve())


# -- matrices ----------------------------------------------------------------------------


@dataclass
class Matrix:
    """A --matrix file: sets for every notebook, or sets per notebook pattern."""

    path: Path
    for_all: list[tuple[str, dict[str, Any]]] | None = None
    per_notebook: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)

    def sets_for(self, notebook: Path, display: str) -> list[tuple[str, dict[str, Any]]] | None:
        """The sets this file gives a notebook, or None when it does not name it."""
        if self.for_all is not None:
            return self.for_all
        names = {display, notebook.name, _relative(notebook, self.path.parent)}
        for pattern, sets in self.per_notebook.items():
            if any(fnmatch.fnmatch(name, pattern) for name in names if name):
                return sets
        return None


def read_matrix(path: str | Path) -> Matrix:
    """Read a YAML (or JSON) matrix file.

    Three shapes: a list of sets (`- {n_estimators: 10}`), named sets
    (`small: {n_estimators: 10}`), both for every notebook; or sets per notebook, keyed by
    a file name, a path or a glob (`iris_classification.ipynb: [...]`, `"*.ipynb": ...`).
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"--matrix {path}: {exc.strerror}.") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"--matrix {path}: not valid YAML ({exc}).") from None
    where = f"--matrix {path}"
    if isinstance(data, dict) and data and all(_is_pattern(k) for k in data):
        per = {key: read_sets(value, f"{where}, {key}") for key, value in data.items()}
        return Matrix(path, per_notebook=per)
    if isinstance(data, dict) and any(_is_pattern(k) for k in data):
        raise BadInput(f"{where}: mixes notebook keys (ending in .ipynb) with set names; key "
                       "every set by its notebook, or none.")
    return Matrix(path, for_all=read_sets(data, where))


def _is_pattern(key: Any) -> bool:
    return isinstance(key, str) and (key.endswith(".ipynb") or "*" in key)


def read_sets(data: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """A list of mappings, or a mapping of set name to mapping, as (name, raw values)."""
    if data is None:
        return []
    if isinstance(data, list):
        sets = []
        for number, values in enumerate(data, 1):
            if not _is_mapping(values):
                raise BadInput(f"{where}: set {number} should be a mapping of parameter name "
                               f"to value, not {values!r}.")
            sets.append((_name_of(values), values))
        return sets
    if isinstance(data, dict):
        for name, values in data.items():
            if not _is_mapping(values):
                raise BadInput(f"{where}: set '{name}' should be a mapping of parameter name "
                               f"to value, not {values!r}.")
        return [(str(name), values) for name, values in data.items()]
    raise BadInput(f"{where}: expected a list of parameter sets, or a mapping of set names "
                   "to parameter sets.")


def _is_mapping(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) for k in value)


def _name_of(values: dict[str, Any]) -> str:
    if not values:
        return DEFAULTS
    return ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in values.items())


# -- cases -------------------------------------------------------------------------------


class NothingToRun(BadInput):
    """A notebook we have nothing to run in: no code cells (a notebook of Markdown only,
    say), or not a Python notebook. It has no case."""


NOTHING_TO_RUN = {"no-code", "not-python"}


def build_cases(
    notebooks: list[Path], matrix: Matrix | None, modes: list[str], output_root: Path,
    timeout: float, left_out: list[str] | None = None,
) -> list[TestCase]:
    """Every (notebook, parameter set, mode) to run; raises BadInput before any runs.

    left_out: given a list, a notebook without code cells or not in Python is left out and
    why is added to it, as pytest passes over a file without tests (a folder's Markdown-only
    introduction must not stop its other notebooks from being tested). Without one it is
    bad input."""
    cases = []
    for notebook in notebooks:
        display = _display(notebook)
        try:
            pipeline = _pipeline(notebook, display)
        except NothingToRun as exc:
            if left_out is None:
                raise
            left_out.append(str(exc))
            continue
        case_modes = modes if _runs_straight(notebook, pipeline) else ["pipeline"]
        for parameter_set in _parameter_sets(pipeline, notebook, display, matrix):
            for mode in case_modes:
                out = output_root / _folder(display) / mode / _slug(parameter_set.name)
                cases.append(TestCase(notebook.resolve(), display, parameter_set, mode,
                                      pipeline.kernel, out, timeout))
    return cases


def _runs_straight(notebook: Path, pipeline) -> bool:
    """Whether running the notebook top to bottom tests it. Not for a pipeline file (its
    notebooks run as one pipeline), nor for a notebook with a fan-out step (`foreach:`),
    which run straight would see its whole list where the pipeline binds one element."""
    if notebook.suffix in (".yml", ".yaml"):
        return False
    return not any(step.foreach for step in pipeline.steps)


def _pipeline(notebook: Path, display: str):
    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.notebook.parse import parse_notebook

    try:
        return parse_notebook(notebook, display)
    except NotebookError as exc:
        # The command prints BadInput as "error: ...": the diagnostics without their own.
        message = "\n".join(d.render().removeprefix("error: ") for d in exc.diagnostics)
        if any(d.code in NOTHING_TO_RUN for d in exc.diagnostics):
            raise NothingToRun(message) from None
        raise BadInput(message) from None


def _parameter_sets(pipeline, notebook: Path, display: str,
                    matrix: Matrix | None) -> list[ParameterSet]:
    from liminal_jupyter.params import ParameterError, resolve

    raw = matrix.sets_for(notebook, display) if matrix else None
    origin = f"--matrix {matrix.path}" if raw is not None else "notebook metadata liminal.test"
    if raw is None:
        raw = read_sets(pipeline.settings.get("test"), f"{display}: {origin}")
    sets = [ParameterSet(DEFAULTS)]
    seen = {DEFAULTS}
    for name, values in raw:
        try:
            typed = resolve(pipeline, from_file=values, file_label=f"set '{name}'")
        except ParameterError as exc:
            raise BadInput(f"{display}: {origin}: {exc}") from None
        unique, number = name, 2
        while unique in seen:
            unique, number = f"{name}#{number}", number + 1
        seen.add(unique)
        sets.append(ParameterSet(unique, typed))
    return sets


def _display(notebook: Path) -> str:
    return _relative(notebook, Path.cwd()) or str(notebook.resolve())


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return ""


def _folder(display: str) -> Path:
    """The notebook's place under the output folder: its path, without the suffix."""
    parts = [p for p in Path(display).with_suffix("").parts if p not in ("/", "..", ".")]
    return Path(*[_slug(p) for p in parts]) if parts else Path("notebook")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_")[:80] or "set"
