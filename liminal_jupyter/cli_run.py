"""`liminal-nb run`: a notebook's pipeline on any engine that runs, from a terminal.

The engines come from the registry (engines/registry.py): `--backend` offers each engine
that can run, and a flag an engine cannot honour (`--resume` where it cannot resume) is
refused by what the engine says it can do, not by its name. Only argparse definitions live
at import time; each run imports what it needs, so `liminal-nb --help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

_RUN_HELP = """\
Run the notebook's pipeline. On this machine (the default, --backend local) each step runs
in a kernel, not in the runner's process, with only its inputs in its namespace; kernels
are started ahead with the imports done and recycled for later steps (--fresh-kernels: a
new one per step). Steps that do not depend on each other run in parallel (up to --jobs).
A step whose code, parameters and inputs are unchanged since a successful run is reused
from the cache. Every run, on every engine, is recorded under .liminal/ next to the
notebook; local runs are tracked in MLflow (by default a SQLite store in .liminal/; set
--tracking-uri or MLFLOW_TRACKING_URI for a server). The notebook itself is never modified.

Exit status: 0 when every step succeeded, 1 when a step failed, 2 for bad input (a notebook
with errors, an unknown parameter or a value of the wrong type).
"""

_RUN_EPILOG = """\
examples:
  liminal-nb run train.ipynb
  liminal-nb run train.ipynb -p n_estimators=200 -p model=rf --jobs 2
  liminal-nb run train.ipynb --params-file params.yaml --no-cache
  liminal-nb run train.ipynb --resume 20261126-1204    # re-run what failed or never ran
  liminal-nb run train.ipynb --from train     # train and what follows; earlier outputs reused
  liminal-nb run train.ipynb --to prepare     # prepare and the steps it depends on
  liminal-nb run train.ipynb --only evaluate  # exactly these steps (comma-separated)
  liminal-nb run train.ipynb --json > events.jsonl      # one JSON event a line
  liminal-nb run train.ipynb --backend kfp-local        # the compiled KFP YAML, by kfp.local
  liminal-nb run train.ipynb --backend airflow -p n_estimators=50   # `airflow dags test`
"""


def add_run_command(commands: argparse._SubParsersAction) -> None:
    from liminal_jupyter.cli_support import add_parameter_arguments
    from liminal_jupyter.engines import registry

    runnable = registry.names(run=True)
    run = commands.add_parser("run", help="run the notebook's pipeline (locally by default)",
                              description=_RUN_HELP, epilog=_RUN_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("notebook", help="path of the .ipynb file")
    add_parameter_arguments(run)
    run.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                     help="steps to run at once (default: the number of cores, %(default)s)")
    described = "; ".join(f"{name}: {registry.get_engine(name).description}"
                          for name in runnable)
    run.add_argument("--backend", "--engine", dest="backend", choices=runnable,
                     default=registry.DEFAULT, metavar="ENGINE",
                     help=f"where to run it, one of {{{','.join(runnable)}}} (default "
                     f"{registry.DEFAULT}). {described}")
    run.add_argument("--image", help="the steps' container image as written into a compiled "
                     "pipeline (kfp-local)")
    run.add_argument("--no-cache", action="store_true", help="run every step, reuse nothing")
    run.add_argument("--fresh-kernels", action="store_true",
                     help="start a new kernel for every step, as a KFP pod does (default: the "
                     "kernel of a step that succeeded is recycled for a later one, its "
                     "namespace cleared and the prelude re-run, so imports are paid once)")
    run.add_argument("--kernel", "-k", metavar="NAME",
                     help="local runs: the kernel for every step instead of the notebook's, as "
                     "papermill's -k (default: the notebook's kernel; when that is not "
                     "installed here, python3 with a warning)")
    run.add_argument("--no-html", action="store_true",
                     help="local runs: do not render executed.html beside each step's executed "
                     "notebook")
    run.add_argument("--resume", metavar="RUN",
                     help="continue run RUN: re-run only the steps that failed or never ran")
    run.add_argument("--from", dest="from_step", metavar="STEP",
                     help="run STEP and every step after it that depends on it; the steps "
                     "before reuse the outputs of their latest successful run")
    run.add_argument("--to", dest="to_step", metavar="STEP",
                     help="run only STEP and the steps it depends on")
    run.add_argument("--only", metavar="STEP[,STEP]",
                     help="run exactly these steps; the steps they read from reuse the "
                     "outputs of their latest successful run")
    run.add_argument("--experiment", help="MLflow experiment (default: notebook metadata "
                     "liminal.experiment, else the pipeline name)")
    run.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI,"
                     " notebook metadata, else sqlite in .liminal/)")
    run.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    # Hidden: the launcher (server, Python API) reserves the id so it can answer at once.
    run.add_argument("--run-id", help=argparse.SUPPRESS)
    shape = run.add_mutually_exclusive_group()
    shape.add_argument("--quiet", "-q", action="store_true", help="print only failures")
    shape.add_argument("--json", action="store_true",
                       help="print progress as JSON lines on stdout (for scripts)")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from liminal_jupyter.runs.nesting import marked_as_running

    # Step kernels inherit the mark: a step calling the Python API cannot rerun this notebook.
    with marked_as_running(args.notebook), _sigterm_cancels():
        return _run_marked(args)


def _run_marked(args: argparse.Namespace) -> int:
    from liminal_jupyter.cli_support import load_valid_pipeline, parameter_values
    from liminal_jupyter.engines.base import EngineRefused, RunRequest
    from liminal_jupyter.engines.registry import get_engine
    from liminal_jupyter.runs.progress import make_reporter

    notebook = Path(args.notebook)
    pipeline = load_valid_pipeline(notebook)
    if pipeline is None:
        return EXIT_INVALID
    if args.resume and (args.param or args.params_file):
        print("error: a resumed run keeps its parameters; start a new run to change them.",
              file=sys.stderr)
        return EXIT_INVALID
    values = parameter_values(pipeline, args)
    if values is None:
        return EXIT_INVALID
    if args.jobs < 1:
        print("error: --jobs must be at least 1.", file=sys.stderr)
        return EXIT_INVALID
    engine = get_engine(args.backend)
    if args.kernel:
        from liminal_jupyter.step.kernelspec import installed_kernels

        found = installed_kernels()
        if args.backend != "local" or args.kernel not in found:
            why = (f"kernel {args.kernel!r} is not installed here (installed: "
                   f"{', '.join(found)})" if args.kernel not in found else
                   f"a {args.backend} step runs in its task's own Python")
            print(f"error: --kernel is for local runs with an installed kernel: {why}.",
                  file=sys.stderr)
            return EXIT_INVALID
    if args.resume and not engine.capabilities.resume:
        print(f"error: --resume is for local runs; a {args.backend} run starts afresh.",
              file=sys.stderr)
        return EXIT_INVALID
    only = [s.strip() for s in (args.only or "").split(",") if s.strip()]
    partial = bool(args.from_step or args.to_step or only)
    if partial and (args.resume or not engine.capabilities.partial):
        why = ("a resumed run re-runs what failed, as it was" if args.resume else
               f"a {args.backend} run runs the whole pipeline")
        print(f"error: --from/--to/--only are for new local runs; {why}.", file=sys.stderr)
        return EXIT_INVALID
    request = RunRequest(notebook, values, run_id=args.run_id, resume=args.resume,
                         from_step=args.from_step, to_step=args.to_step, only=only,
                         jobs=args.jobs, use_cache=not args.no_cache,
                         fresh_kernels=args.fresh_kernels, kernel=args.kernel,
                         html=not args.no_html,
                         tracking=not args.no_tracking,
                         tracking_uri=args.tracking_uri, experiment=args.experiment,
                         image=args.image, pipeline=pipeline)
    reporter = make_reporter("json" if args.json else "quiet" if args.quiet else "auto")
    try:
        result = engine.run(request, reporter)
    except EngineRefused as exc:
        reporter.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        reporter.close()
        if engine.capabilities.resume:
            print("run cancelled; finished steps are kept: liminal-nb run --resume "
                  "to continue.", file=sys.stderr)
        else:
            print("run cancelled.", file=sys.stderr)
        return 130
    reporter.close()
    if not args.json:
        _print_outcome(result, engine, notebook, quiet=args.quiet)
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


@contextlib.contextmanager
def _sigterm_cancels() -> Iterator[None]:
    """While a run runs, SIGTERM cancels it like Ctrl-C: finished steps are kept and the run
    says 'cancelled'.

    Launchers (the Jupyter server, the Python API) stop a run this way; SIGINT may be
    ignored in a process started in the background, SIGTERM never is. The previous handler
    comes back afterwards, so a caller of `main` in its own process (a test) keeps its own.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; a launcher runs us in a process
        return

    def cancel(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_outcome(result: Any, engine: Any, notebook: Path, quiet: bool) -> None:
    """What a run ended with: its status and metrics, where to look, and for a failed step
    its executed notebook with the error in place (every engine records it)."""
    from liminal_jupyter.engines.registry import DEFAULT
    from liminal_jupyter.runs.location import run_store_for

    failed = [r for r in run_store_for(notebook).steps(result.run_id) if r.status == "failed"]
    if quiet and result.status == "succeeded" and not failed:
        return
    where = "" if engine.name == DEFAULT else f" ({engine.name})"
    print(f"run {result.run_id}{where}: {result.status}")
    if result.metrics:
        print("metrics: " + ", ".join(f"{k}={_number(v)}" for k, v in result.metrics.items()))
    for warning in result.warnings:
        print(warning)
    print(f"details: liminal-nb show {result.run_id} --dir {notebook.parent}")
    for record in failed:
        if record.executed_notebook:
            print(f"executed notebook of '{record.step}', with the error in place: "
                  f"{record.executed_notebook}")
    if failed and engine.capabilities.resume:
        print(f"after fixing it: liminal-nb run {notebook} --resume {result.run_id}")


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
