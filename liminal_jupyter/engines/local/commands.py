"""`liminal-nb run`, `runs`, `show` and `logs`: the local runner from a terminal.

Only argparse definitions live at import time; each handler imports what it needs, so
`liminal-nb --help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

_RUN_HELP = """\
Run the notebook's pipeline on this machine. Each step runs in a kernel, not in the runner's
process, with only its inputs in its namespace; kernels are started ahead with the imports
done and recycled for later steps (--fresh-kernels: a new one per step). Steps that do not
depend on each other run in parallel (up to --jobs). A step whose code, parameters and
inputs are unchanged since a successful run is reused from the cache. Every
run is recorded under .liminal/ next to the notebook, and tracked in MLflow (by default a
SQLite store in .liminal/; set --tracking-uri or MLFLOW_TRACKING_URI for a server).
The notebook itself is never modified.

Exit status: 0 when every step succeeded, 1 when a step failed, 2 for bad input (a notebook
with errors, an unknown parameter or a value of the wrong type).
"""

_RUN_EPILOG = """\
examples:
  liminal-nb run train.ipynb
  liminal-nb run train.ipynb -p n_estimators=200 -p model=rf --jobs 2
  liminal-nb run train.ipynb --params-file params.yaml --no-cache
  liminal-nb run train.ipynb --resume 20261126-1204    # re-run what failed or never ran
  liminal-nb run train.ipynb --json > events.jsonl      # one JSON event a line
  liminal-nb run train.ipynb --backend kfp-local        # the compiled KFP YAML, by kfp.local
  liminal-nb run train.ipynb --backend airflow -p n_estimators=50   # `airflow dags test`
"""


def add_run_commands(commands: argparse._SubParsersAction) -> None:
    from liminal_jupyter.cli_support import add_parameter_arguments

    raw = argparse.RawDescriptionHelpFormatter
    run = commands.add_parser("run", help="run the notebook's pipeline locally",
                              description=_RUN_HELP, epilog=_RUN_EPILOG, formatter_class=raw)
    run.add_argument("notebook", help="path of the .ipynb file")
    add_parameter_arguments(run)
    run.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                     help="steps to run at once (default: the number of cores, %(default)s)")
    run.add_argument("--backend", choices=("local", "kfp-local", "airflow"), default="local",
                     help="local (default): this machine's runner; kfp-local: compile to KFP "
                     "and run the YAML with KFP's own local runner, to prove it works; "
                     "airflow: compile to an Airflow DAG and run it with `airflow dags test` "
                     "(needs pip install 'liminal-jupyter[airflow]')")
    run.add_argument("--image", help="with --backend kfp-local: the steps' container image "
                     "as written into the compiled pipeline")
    run.add_argument("--no-cache", action="store_true", help="run every step, reuse nothing")
    run.add_argument("--fresh-kernels", action="store_true",
                     help="start a new kernel for every step, as a KFP pod does (default: the "
                     "kernel of a step that succeeded is recycled for a later one, its "
                     "namespace cleared and the prelude re-run, so imports are paid once)")
    run.add_argument("--no-html", action="store_true",
                     help="do not render executed.html beside each step's executed notebook")
    run.add_argument("--resume", metavar="RUN",
                     help="continue run RUN: re-run only the steps that failed or never ran")
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

    runs = commands.add_parser(
        "runs", help="list recorded runs",
        description="List the runs recorded next to a notebook (local and submitted), newest "
        "first. A run whose runner died shows as interrupted.",
        epilog="examples:\n  liminal-nb runs train.ipynb\n  liminal-nb runs . --json",
        formatter_class=raw)
    runs.add_argument("path", nargs="?", default=".",
                      help="a notebook, or a folder whose .liminal/ to read (default: .)")
    runs.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=_runs)

    show = commands.add_parser(
        "show", help="show one run: steps, states, durations, outputs, metrics",
        description="Show a run's steps with their state, duration, inputs, outputs, "
        "metrics and, for a failed step, the error. RUN may be a unique prefix of a run id.",
        epilog="examples:\n  liminal-nb show 20261126-1204\n  liminal-nb show 20261126 --dir "
        "example_notebooks --json", formatter_class=raw)
    show.add_argument("run", help="run id (or a unique prefix)")
    show.add_argument("--dir", default=".", help="the notebook's folder (default: .)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_show)

    logs = commands.add_parser(
        "logs", help="print the log of a run's steps",
        description="Print the log of one step of a run (its cells' output, as papermill "
        "logged it), or of every step in run order.",
        epilog="examples:\n  liminal-nb logs 20261126-1204 train\n  liminal-nb logs 20261126-1204",
        formatter_class=raw)
    logs.add_argument("run", help="run id (or a unique prefix)")
    logs.add_argument("step", nargs="?", help="one step (default: all)")
    logs.add_argument("--dir", default=".", help="the notebook's folder (default: .)")
    logs.set_defaults(handler=_logs)


# -- run ---------------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    from liminal_jupyter.runs.nesting import marked_as_running

    # Step kernels inherit the mark: a step calling the Python API cannot rerun this notebook.
    with marked_as_running(args.notebook), _sigterm_cancels():
        return _run_marked(args)


def _run_marked(args: argparse.Namespace) -> int:
    from liminal_jupyter.cli_support import load_valid_pipeline, parameter_values
    from liminal_jupyter.engines.local.runner import LocalRun, RunOptions
    from liminal_jupyter.runs.progress import make_reporter
    from liminal_jupyter.runs.store import StoreError

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
    if args.backend != "local" and args.resume:
        print(f"error: --resume is for local runs; a {args.backend} run starts afresh.",
              file=sys.stderr)
        return EXIT_INVALID
    if args.backend == "kfp-local":
        return _run_kfp_local(notebook, values, args)
    if args.backend == "airflow":
        from liminal_jupyter.engines.airflow.commands import run_with_airflow

        return run_with_airflow(notebook, values, args)
    options = RunOptions(values, args.jobs, not args.no_cache, args.resume,
                         not args.no_tracking, args.tracking_uri, args.experiment,
                         run_id=args.run_id, fresh_kernels=args.fresh_kernels,
                         html=not args.no_html)
    reporter = make_reporter("json" if args.json else "quiet" if args.quiet else "auto")
    try:
        outcome = LocalRun(notebook, pipeline, options, reporter).execute()
    except StoreError as exc:
        reporter.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        reporter.close()
        print("run cancelled; finished steps are kept: liminal-nb run --resume "
              "to continue.", file=sys.stderr)
        return 130
    reporter.close()
    if not args.json:
        _print_outcome(outcome, notebook, quiet=args.quiet)
    return EXIT_OK if outcome.status == "succeeded" else EXIT_FAILED


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


def _run_kfp_local(notebook: Path, values: dict[str, Any], args: argparse.Namespace) -> int:
    from liminal_jupyter.engines.kfp.local_backend import KfpLocalError, run_kfp_local

    return run_on_engine("kfp-local", notebook, args, KfpLocalError, lambda reporter:
                         run_kfp_local(notebook, values, reporter, image=args.image,
                                       run_id=args.run_id))


def run_on_engine(backend: str, notebook: Path, args: argparse.Namespace,
                  refused: type[Exception], start: Callable[[Any], tuple[str, str, dict]]
                  ) -> int:
    """The terminal side of a run on another engine (kfp-local, airflow): its progress,
    its outcome, and exit 0 succeeded, 1 failed, 2 when `start` raises `refused`.

    start(reporter) runs it and returns (run id, status, metrics).
    """
    from liminal_jupyter.runs.progress import make_reporter

    reporter = make_reporter("json" if args.json else "quiet" if args.quiet else "auto")
    try:
        run_id, status, metrics = start(reporter)
    except refused as exc:
        reporter.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        reporter.close()
        print("run cancelled.", file=sys.stderr)
        return 130
    reporter.close()
    if not args.json and not (args.quiet and status == "succeeded"):
        print(f"run {run_id} ({backend}): {status}")
        if metrics:
            print("metrics: " + ", ".join(f"{k}={_number(v)}" for k, v in metrics.items()))
        print(f"details: liminal-nb show {run_id} --dir {notebook.parent}")
    return EXIT_OK if status == "succeeded" else EXIT_FAILED


def _print_outcome(outcome, notebook: Path, quiet: bool) -> None:
    failed = [r for r in outcome.steps.values() if r.status == "failed"]
    if quiet and not failed:
        return
    metrics = {k: v for r in outcome.steps.values() for k, v in (r.metrics or {}).items()}
    print(f"run {outcome.run_id}: {outcome.status}")
    if metrics:
        print("metrics: " + ", ".join(f"{k}={_number(v)}" for k, v in metrics.items()))
    if outcome.tracking_warning:
        print(f"tracking: off ({outcome.tracking_warning})")
    print(f"details: liminal-nb show {outcome.run_id} --dir {notebook.parent}")
    for record in failed:
        if record.executed_notebook:
            print(f"executed notebook of '{record.step}', with the error in place: "
                  f"{record.executed_notebook}")
    if failed:
        print(f"after fixing it: liminal-nb run {notebook} --resume {outcome.run_id}")


# -- runs, show, logs --------------------------------------------------------------------
def _store_for(path: str):
    from liminal_jupyter.runs.location import run_store_for

    target = Path(path)
    return run_store_for(target), (target if target.suffix == ".ipynb" else None)


def _find_run(folder: str, run_id: str):
    """(store, run) for a run id or prefix; (store, None) after printing why not."""
    from liminal_jupyter.runs.store import RunNotFound

    store, _ = _store_for(folder)
    try:
        return store, store.get_run(run_id)
    except RunNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return store, None


def _runs(args: argparse.Namespace) -> int:
    store, notebook = _store_for(args.path)
    if not (store.root / "runs.db").exists():
        print(f"no runs recorded in {store.root.parent} yet: `liminal-nb run NOTEBOOK` "
              "starts one." if not args.json else "[]")
        return EXIT_OK
    runs = store.list_runs(notebook=notebook, limit=args.limit)
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=2))
        return EXIT_OK
    if not runs:
        print("no runs recorded for this notebook yet.")
        return EXIT_OK
    print(f"{'run':<22} {'status':<12} {'backend':<10} {'started':<20} {'took':>8}  notebook")
    for run in runs:
        took = _took(run.started, run.ended)
        print(f"{run.run_id:<22} {run.status:<12} {run.backend:<10} {_when(run.started):<20} "
              f"{took:>8}  {run.notebook}")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    store, run = _find_run(args.dir, args.run)
    if run is None:
        return EXIT_INVALID
    steps = store.steps(run.run_id)
    from liminal_jupyter.runs.registered import read_registered_models
    from liminal_jupyter.step.html import page_beside

    models = read_registered_models(store.run_dir(run.run_id)) or []
    if args.json:
        print(json.dumps({"run": run.to_json(),
                          "steps": [{**s.to_json(), "html": page_beside(s.executed_notebook)}
                                    for s in steps],
                          "models": models}, indent=2, default=str))
        return EXIT_OK
    print(f"run {run.run_id}  {run.status}  ({run.backend}, {run.pipeline_name}, "
          f"{run.notebook})")
    print(f"started {_when(run.started)}, took {_took(run.started, run.ended)}"
          + (f"; {run.message}" if run.message else ""))
    if run.parameters:
        print("parameters set: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in
                                              run.parameters.items()))
    if run.tracking_run_id:
        print(f"MLflow run: {run.tracking_run_id}")
    for model in models:
        aliases = f" ({', '.join(model['aliases'])})" if model["aliases"] else ""
        print(f"model: {model['name']} version {model['version']}{aliases}, from "
              f"{model['variable']} of step {model['step']}")
    inputs = _inputs_by_step(store, run.run_id)
    for record in steps:
        cached = f" (from run {record.cached_from_run})" if record.cached_from_run else ""
        print(f"\n  {record.step:<16} {record.status:<10} {_took(record.started, record.ended):>8}"
              f"{cached}")
        if inputs.get(record.step):
            print(f"      inputs:  {', '.join(inputs[record.step])}")
        if record.outputs:
            outs = ", ".join(f"{n} ({o.get('marshaller')}, {_size(o.get('size'))})"
                             for n, o in record.outputs.items())
            print(f"      outputs: {outs}")
        if record.metrics:
            print("      metrics: " + ", ".join(f"{k}={_number(v)}"
                                                for k, v in record.metrics.items()))
        if record.error:
            from liminal_jupyter.engines.local.runner import _render_error

            print("      error:   " + _render_error(record.error).replace("\n", "\n      "))
        if record.executed_notebook:
            print(f"      notebook: {record.executed_notebook}")
            page = page_beside(record.executed_notebook)
            if page:
                print(f"      html:     {page}")
    return EXIT_OK


def _inputs_by_step(store, run_id: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in store.run_dir(run_id).glob("steps/*/inputs.json"):
        try:
            found[path.parent.name] = sorted(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return found


def _logs(args: argparse.Namespace) -> int:
    store, run = _find_run(args.dir, args.run)
    if run is None:
        return EXIT_INVALID
    records = store.steps(run.run_id)
    if args.step:
        records = [r for r in records if r.step == args.step]
        if not records:
            names = ", ".join(r.step for r in store.steps(run.run_id))
            print(f"error: run {run.run_id} has no step '{args.step}'; steps are {names}.",
                  file=sys.stderr)
            return EXIT_INVALID
    for record in records:
        if len(records) > 1:
            print(f"===== {record.step} ({record.status})")
        log = Path(record.log_path) if record.log_path else None
        if log and log.exists():
            sys.stdout.write(log.read_text(errors="replace"))
        else:
            print(f"(no log: the step {record.status})")
    return EXIT_OK


# -- formatting --------------------------------------------------------------------------
def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def _took(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    if end is None:
        return "..."
    return f"{end - start:.1f}s"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.0f} TB"
