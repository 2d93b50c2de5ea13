"""`liminal-nb test`: run notebooks as tests, for CI. Registered from cli.py.

Argument parsing only; the work is in cases.py (what to run), runner.py (running it) and
report.py / junit.py (saying what happened). Nothing heavy is imported until it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from liminal_jupyter.runs.location import LIMINAL_DIR

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
DEFAULT_OUTPUT = Path(LIMINAL_DIR) / "test"
DEFAULT_TIMEOUT = 600.0

_HELP = """\
Run notebooks as tests. Each notebook (a file, or every .ipynb under a folder, skipping
.ipynb_checkpoints and .liminal) runs in a real kernel through papermill, once with its
defaults and once per parameter set of its matrix: the `liminal.test` sets in its
metadata, or a --matrix file. With --as-pipeline it runs step by step through the local
runner instead, so step boundaries and the data passed between steps are tested too.

A cell tagged `raises-exception` may fail in a straight run (as a pipeline, it fails its
step: tag it `skip` too); cells tagged `skip-ci` are not run. A notebook that is not a
valid pipeline fails its --as-pipeline cases with the errors `inspect` shows. Every
case's executed notebook and log are kept under --output-dir; failures show the
notebook, the parameter set, the cell (number and id), the line and the traceback.

Exit status: 0 when every case passed, 1 when one failed or timed out, 2 for bad input
(no notebooks, an unreadable notebook, a bad matrix or a parameter the notebook refuses).
"""

_EPILOG = """\
examples:
  liminal-nb test example_notebooks/
  liminal-nb test example_notebooks/ --as-pipeline --jobs 2 --junit reports/notebooks.xml
  liminal-nb test train.ipynb --matrix params.yaml --timeout 300
  liminal-nb test . --both                 every notebook straight and as a pipeline
  liminal-nb test . --junit r.xml --html pages/   a page per case, named in the XML

params.yaml, a list of sets (or `name: {...}` named sets) for every notebook:
  - {n_estimators: 10}
  - {n_estimators: 200, max_depth: 8}
or sets per notebook (a file name, a path or a glob):
  iris_classification.ipynb:
    small: {n_estimators: 10}

or in the notebook's metadata: "liminal": {"test": [{"n_estimators": 10}]}
"""


def add_test_command(commands: argparse._SubParsersAction) -> None:
    test = commands.add_parser(
        "test", help="run notebooks as tests (papermill or the local runner), for CI",
        description=_HELP, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    test.add_argument("paths", nargs="+", metavar="PATH", help="notebooks or folders")
    mode = test.add_mutually_exclusive_group()
    mode.add_argument("--as-pipeline", action="store_true",
                      help="run each notebook step by step through the local runner")
    mode.add_argument("--both", action="store_true",
                      help="run each notebook straight and as a pipeline")
    test.add_argument("--matrix", metavar="FILE.yaml",
                      help="parameter sets (YAML or JSON); replaces the liminal.test sets of "
                      "the notebooks it covers")
    test.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                      help="cases to run at once (default: the number of cores, %(default)s)")
    test.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                      help="time allowed for each notebook and parameter set (default "
                      "%(default)g)")
    test.add_argument("--junit", metavar="FILE.xml", help="write JUnit XML for CI systems")
    test.add_argument("--html", metavar="DIR",
                      help="write an HTML page per case into DIR (the executed notebook, or "
                      "the run report as a pipeline), named in the JUnit XML")
    test.add_argument("--output-dir", default=str(DEFAULT_OUTPUT), metavar="DIR",
                      help="where executed notebooks and logs are kept (default: "
                      "%(default)s)")
    test.add_argument("--tracking", action="store_true",
                      help="with --as-pipeline: log runs to MLflow as `run` does (off by "
                      "default in tests)")
    test.add_argument("--fresh-kernels", action="store_true",
                      help="with --as-pipeline: a new kernel process for every step, as in a "
                      "Kubeflow pod (default: recycled kernels, as `run` does)")
    test.set_defaults(handler=run_test_command)


def run_test_command(args: argparse.Namespace) -> int:
    from liminal_jupyter.nbtest.cases import BadInput, build_cases, find_notebooks, read_matrix
    from liminal_jupyter.nbtest.junit import write_junit
    from liminal_jupyter.nbtest.report import Report
    from liminal_jupyter.nbtest.runner import RunSettings, run_cases

    if args.jobs < 1 or args.timeout <= 0:
        print("error: --jobs must be at least 1 and --timeout positive.", file=sys.stderr)
        return EXIT_INVALID
    modes = ["notebook", "pipeline"] if args.both else [
        "pipeline" if args.as_pipeline else "notebook"]
    output = Path(args.output_dir).resolve()
    try:
        notebooks = find_notebooks(args.paths, exclude=output)
        matrix = read_matrix(args.matrix) if args.matrix else None
        left_out: list[str] = []
        cases = build_cases(notebooks, matrix, modes, output, args.timeout, left_out)
        if not cases:
            raise BadInput("\n".join(left_out))
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for reason in left_out:
        print(f"left out: {reason}", file=sys.stderr)
    report = Report()
    report.started(len(cases), len(notebooks), args.jobs)
    started = time.time()
    try:
        results = run_cases(cases, RunSettings(jobs=args.jobs, tracking=args.tracking,
                                                  fresh_kernels=args.fresh_kernels),
                            report.case_finished)
    except KeyboardInterrupt:
        print("interrupted; the cases that were running were stopped.", file=sys.stderr)
        return 130
    report.summary(results)
    if args.html:
        from liminal_jupyter.nbtest.pages import write_case_pages

        written = write_case_pages(results, args.html)
        report.console.print(f"HTML pages: {written} in {args.html}")
    if args.junit:
        write_junit(args.junit, results, started)
        report.console.print(f"JUnit XML: {args.junit}")
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
