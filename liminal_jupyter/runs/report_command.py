"""`liminal-nb report RUN [--dir DIR] [-o FILE]`: the command; the page is runs/report.py.

Kept apart from the page so that building the CLI's parser imports nothing but argparse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_report_command(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="one self-contained HTML page for a run (DAG, metrics, notebooks)",
        description="Write one HTML page for a run: the DAG with each step's state and\n"
        "duration, the parameters, metrics and registered models, and each step's executed\n"
        "notebook (a failed step open at its error). The page runs no script and loads\n"
        "nothing from the network. RUN may be a unique prefix of a run id.",
        epilog="examples:\n  liminal-nb report 20261126-1204 --dir example_notebooks\n"
        "  liminal-nb report 20261126-1204 -o report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("run", help="run id (or a unique prefix)")
    report.add_argument("--dir", default=".", help="the notebook's folder (default: .)")
    report.add_argument("-o", "--output", metavar="FILE",
                        help="where to write it (default: report.html in the run's folder)")
    report.set_defaults(handler=_report_command)


def _report_command(args: argparse.Namespace) -> int:
    from liminal_jupyter.atomic import atomic_write_text
    from liminal_jupyter.runs.location import run_store_for
    from liminal_jupyter.runs.report import REPORT, run_report
    from liminal_jupyter.runs.store import RunNotFound

    store = run_store_for(Path(args.dir))
    try:
        run = store.get_run(args.run)
    except RunNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = Path(args.output) if args.output else store.run_dir(run.run_id) / REPORT
    atomic_write_text(target, run_report(store, run.run_id))
    print(f"report of run {run.run_id} ({run.status}): {target}")
    return 0
