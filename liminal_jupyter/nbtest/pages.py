"""`liminal-nb test --html DIR`: an HTML page per case, for a CI job to keep as artifacts.

A reviewer of a failed CI job should see the executed notebook without downloading it
into Jupyter. A notebook case's page is its executed notebook (step/html.py); a pipeline
case's page is the report of its run (runs/report.py), with every step and the failing one
open at its error. Every case gets a page when it has something to show (a notebook that
is no valid pipeline ran nothing), and the JUnit XML names each page (junit.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from liminal_jupyter.atomic import atomic_write_text
from liminal_jupyter.nbtest.results import CaseResult


def write_case_pages(results: list[CaseResult], folder: str | Path) -> int:
    """Write the pages into `folder`, set each result's `html`; the number written."""
    out = Path(folder).resolve()
    taken: set[str] = set()
    written = 0
    for result in results:
        name = _file_name(result.case_id, taken)
        try:
            page = _page(result)
        except Exception as exc:  # one page lost must not lose the others or the JUnit XML
            print(f"warning: no HTML page for {result.case_id}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            continue
        if page is None:
            continue
        target = out / name
        atomic_write_text(target, page)
        result.html = str(target)
        written += 1
    return written


def _page(result: CaseResult) -> str | None:
    if result.mode == "pipeline":
        from liminal_jupyter.runs.report import run_report
        from liminal_jupyter.runs.store import RunStore

        store_dir = Path(result.output_dir)
        if not (store_dir / "runs.db").is_file():
            return None
        store = RunStore(store_dir)
        runs = store.list_runs(limit=1)
        return run_report(store, runs[0].run_id) if runs else None
    if result.executed_notebook and Path(result.executed_notebook).is_file():
        from liminal_jupyter.step.html import render_html

        return render_html(result.executed_notebook, title=result.case_id)
    return None


def _file_name(case_id: str, taken: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("_.") or "case"
    name, n = f"{stem}.html", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.html"
    taken.add(name)
    return name
