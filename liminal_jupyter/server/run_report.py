"""GET /liminal/runs/ID/report?path=NOTEBOOK: a run's report page (runs/report.py).

The panel shows it in a main-area tab, in an iframe sandboxed with no permissions, as it
shows a drift report; opened directly, the response's CSP `sandbox` does the same. The
page is built in a thread from the run store and the executed notebooks it names, each
read only when it lies inside its run's folder and the server's root (server/executed.py
checks the same for the viewer); nothing of the user's runs: rendering reads notebooks'
JSON, it executes none of their code.
"""

from __future__ import annotations

from pathlib import Path

import tornado.web

from liminal_jupyter.server.errors import ApiError
from liminal_jupyter.server.routes import LiminalHandler

# The page is our own HTML around the user's outputs: it may show, never run anything,
# nor reach the Jupyter origin (a sandbox has an opaque origin).
REPORT_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'self'")


def run_report_page(root: Path, notebook: Path, run_id: str) -> str:
    """The report of run `run_id` (or a unique prefix) of `notebook`; 404 when unknown."""
    from liminal_jupyter.runs.report import run_report
    from liminal_jupyter.server.executed import _confined
    from liminal_jupyter.server.run_views import find_run

    store, run = find_run(notebook, run_id)

    def readable(record) -> bool:
        try:
            _confined(root, store.run_dir(record.origin_run), record.executed_notebook or "")
        except ApiError:
            return False
        return True

    return run_report(store, run.run_id, readable=readable)


class RunReportHandler(LiminalHandler):
    @property
    def content_security_policy(self) -> str:
        return REPORT_CSP

    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        path, notebook = self.query_path()
        page = await self.in_thread(run_report_page, self.root, notebook, run_id)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(page, set_content_type="text/html; charset=utf-8")
