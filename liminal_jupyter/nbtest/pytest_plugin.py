"""A pytest plugin: `pytest --liminal-nb example_notebooks/` runs notebooks as tests.

For teams that already run pytest: each notebook becomes a test file and each of its
parameter sets (defaults, then `liminal.test` or `--liminal-nb-matrix` sets) a test item,
run exactly as `liminal-nb test` runs it (a child process, a real kernel, a timeout). A
failure reads like the command's: the notebook, the parameter set, the cell and the
traceback, and where the executed notebook was kept.

Registered through the `pytest11` entry point, so it is loaded by every pytest run in an
environment where liminal-jupyter is installed: it collects nothing unless --liminal-nb
is given, and imports nothing of ours until it does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from liminal_jupyter.runs.location import LIMINAL_DIR


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("liminal-nb", "notebooks as tests (liminal-jupyter)")
    group.addoption("--liminal-nb", action="store_true", default=False,
                    help="collect .ipynb files as tests: one per notebook and parameter set")
    group.addoption("--liminal-nb-as-pipeline", action="store_true", default=False,
                    help="run the notebooks step by step through the local runner")
    group.addoption("--liminal-nb-matrix", metavar="FILE.yaml", default=None,
                    help="parameter sets, as for `liminal-nb test --matrix`")
    group.addoption("--liminal-nb-timeout", type=float, default=600.0, metavar="SECONDS",
                    help="time allowed for each notebook and parameter set (default 600)")
    group.addoption("--liminal-nb-output-dir", default=None, metavar="DIR",
                    help="where executed notebooks are kept (default: .liminal/test under "
                    "the rootdir)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".ipynb" or not parent.config.getoption("liminal_nb"):
        return None
    from liminal_jupyter.nbtest.cases import SKIPPED_FOLDERS

    if SKIPPED_FOLDERS & set(file_path.parts) or _in_output_dir(file_path, parent.config):
        return None
    return NotebookFile.from_parent(parent, path=file_path)


def _output_dir(config: pytest.Config) -> Path:
    chosen = config.getoption("liminal_nb_output_dir")
    return Path(chosen).resolve() if chosen else config.rootpath / LIMINAL_DIR / "test"


def _in_output_dir(path: Path, config: pytest.Config) -> bool:
    return path.resolve().is_relative_to(_output_dir(config))


class NotebookFile(pytest.File):
    """A notebook; its items are its parameter sets."""

    def collect(self):
        from liminal_jupyter.nbtest.cases import BadInput, build_cases, read_matrix

        config = self.config
        mode = "pipeline" if config.getoption("liminal_nb_as_pipeline") else "notebook"
        try:
            matrix_file = config.getoption("liminal_nb_matrix")
            matrix = read_matrix(matrix_file) if matrix_file else None
            # A notebook without code cells, or not in Python, has no items (a file without tests).
            cases = build_cases([self.path], matrix, [mode], _output_dir(config),
                                config.getoption("liminal_nb_timeout"), left_out=[])
        except BadInput as exc:
            raise self.CollectError(str(exc)) from None
        for case in cases:
            name = case.parameter_set.name + ("[pipeline]" if mode == "pipeline" else "")
            yield NotebookItem.from_parent(self, name=name, case=case)


class NotebookFailed(Exception):
    """A notebook case that did not pass; carries its result for the report."""

    def __init__(self, result: Any):
        super().__init__(result.failure.message if result.failure else result.status)
        self.result = result


class NotebookItem(pytest.Item):
    def __init__(self, *, case: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        from liminal_jupyter.nbtest.runner import RunSettings, run_case

        result = run_case(self.case, RunSettings(jobs=1, tracking=False))
        if not result.ok:
            raise NotebookFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        if isinstance(excinfo.value, NotebookFailed):
            from liminal_jupyter.nbtest.results import describe

            return describe(excinfo.value.result)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.case.case_id
