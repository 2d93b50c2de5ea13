"""What a person sees: a line per case as it ends, a summary table, then each failure.

rich draws the table (plain text when the output is not a terminal, as in CI logs). A
failure says the notebook, the parameter set, the cell (number and id) and line, the
traceback, and where the executed notebook with the error in place was kept.
"""

from __future__ import annotations

import threading
from typing import Any

from liminal_jupyter.nbtest.results import PASSED, TIMEOUT, CaseResult

_STYLE = {PASSED: "green", TIMEOUT: "bold magenta"}
_WORD = {PASSED: "PASS", TIMEOUT: "TIMEOUT"}


class Report:
    def __init__(self, console: Any = None):
        from rich.console import Console

        self.console = console or Console(highlight=False, soft_wrap=True)
        self.lock = threading.Lock()

    def started(self, cases: int, notebooks: int, jobs: int) -> None:
        self.console.print(f"liminal-nb test: {cases} case(s) from {notebooks} notebook(s), "
                           f"{jobs} at a time")

    def case_finished(self, result: CaseResult) -> None:
        from rich.markup import escape

        style = _STYLE.get(result.status, "bold red")
        word = _WORD.get(result.status, "FAIL")
        with self.lock:
            self.console.print(f"[{style}]{word:<7}[/] {escape(result.case_id)}  "
                               f"({result.duration:.1f}s)", markup=True)

    def summary(self, results: list[CaseResult]) -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="Notebook tests", title_justify="left")
        for column in ("notebook", "parameters", "mode", "result", "time", "where"):
            table.add_column(column, justify="right" if column == "time" else "left")
        for r in results:
            style = _STYLE.get(r.status, "bold red")
            where = r.failure.where() if r.failure else ""
            table.add_row(escape(r.notebook), escape(r.parameter_set), r.mode,
                          f"[{style}]{r.status}[/]", f"{r.duration:.1f}s", escape(where))
        self.console.print(table)
        for r in results:
            if not r.ok:
                self._failure(r)
        passed = sum(r.ok for r in results)
        style = "green" if passed == len(results) else "bold red"
        self.console.print(f"[{style}]{passed} passed, {len(results) - passed} failed[/]")

    def _failure(self, r: CaseResult) -> None:
        from rich.markup import escape

        failure = r.failure
        self.console.rule(f"[bold red]{escape(r.case_id)}[/]")
        self.console.print(f"notebook:      {escape(r.notebook)}")
        self.console.print(f"parameter set: {escape(r.parameter_set)} "
                           f"{escape(str(r.parameters or ''))}".rstrip())
        if failure is not None:
            if failure.where():
                self.console.print(f"where:         {escape(failure.where())}")
            self.console.print(f"error:         {escape(failure.message)}")
            if failure.traceback:
                self.console.print(escape("\n".join(failure.traceback)))
        if r.executed_notebook:
            self.console.print(f"executed notebook (kept): {escape(r.executed_notebook)}")
        if r.log:
            self.console.print(f"log: {escape(r.log)}")
