"""`submit`, `watch` and `logs` across engines: `--engine kfp|airflow` picks where a run goes.

The KFP engine defines the `submit` and `watch` parsers, the runs ledger defines `logs`;
engines never import each other and runs/ imports no engine, so this face module (the CLI)
adds the Airflow options to those parsers and dispatches. `submit` goes through the Engine
interface for every engine (`Engine.submit` with the settings its `submit_options()` name,
taken from the options of the same names), as the server and the Python API do; kfp stays
its default. `watch` of an Airflow run (`--engine airflow`, a run the store records as
submitted to an Airflow deployment, or DAG_ID/DAG_RUN_ID, which a KFP run id never is) goes
to engines/airflow/submit_commands.py, everything else where it went before.
"""

from __future__ import annotations

import argparse
from typing import Any


def extend_remote_commands(commands: argparse._SubParsersAction) -> None:
    from liminal_jupyter.engines.airflow.submit_commands import SUBMIT_HELP, add_airflow_options

    choices = commands.choices
    submit, watch, logs = choices.get("submit"), choices.get("watch"), choices.get("logs")
    for parser, is_submit in ((submit, True), (watch, False)):
        if parser is None:
            continue
        parser.add_argument("--engine", choices=("kfp", "airflow"), default=None,
                            help="where the run goes: kfp (default) or airflow (an Airflow "
                            "3 deployment's REST API v2)")
        add_airflow_options(parser, submit=is_submit)
    if submit is not None:
        submit.description = (submit.description or "") + "\n" + SUBMIT_HELP
        submit.set_defaults(handler=submit_through_engine)
    if watch is not None:
        _wrap(watch, _airflow_watch, "watch_airflow")
    if logs is not None:
        for name, env in (("username", "USERNAME"), ("password", "PASSWORD"),
                          ("token", "TOKEN")):
            logs.add_argument(f"--{name}", help=f"a run on Airflow: its {name} (default: "
                              f"$LIMINAL_AIRFLOW_{env})")
        original = logs.get_default("handler")
        logs.set_defaults(handler=lambda args: _logs(args, original))


# CLI options that are not host settings, passed to the engine as SubmitRequest.options.
_SUBMIT_OPTIONS = {"cookies": "cookies", "namespace": "namespace",
                   "workspace_uri": "workspace_uri", "install_runtime": "install_runtime",
                   "index_urls": "index_urls", "dag_id": "dag_id",
                   "parse_timeout": "parse_timeout"}


def submit_through_engine(args: argparse.Namespace) -> int:
    """`liminal-nb submit NOTEBOOK [--engine NAME]`: Engine.submit with the host settings
    its submit_options() name (`--dags-folder` is `dags_folder`); exit 0, 1 (the host
    failed) or 2 (bad input)."""
    import sys
    from pathlib import Path

    from liminal_jupyter.cli_support import load_valid_pipeline, parameter_values
    from liminal_jupyter.engines.base import EngineRefused, SubmitFailed, SubmitRequest
    from liminal_jupyter.engines.registry import get_engine

    engine = get_engine(args.engine or "kfp")
    notebook = Path(args.notebook)
    pipeline = load_valid_pipeline(notebook)
    if pipeline is None:
        return 2
    values = parameter_values(pipeline, args)
    if values is None:
        return 2
    settings = {o.name: getattr(args, o.name, None) for o in engine.submit_options()}
    options = {key: getattr(args, attr) for key, attr in _SUBMIT_OPTIONS.items()
               if getattr(args, attr, None) is not None}
    if getattr(args, "no_create_experiment", False):
        options["create_experiment"] = False
    request = SubmitRequest(notebook, pipeline, values, settings, run_name=args.run_name,
                            on_wait=lambda text: print(text, file=sys.stderr, flush=True),
                            options=options)
    try:
        done = engine.submit(request)
    except SubmitFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if exc.invalid else 1
    except EngineRefused as exc:  # a compile error: the pipeline cannot go there
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for note in done.notes:
        print(f"note: {note}", file=sys.stderr)
    for line in done.done:
        print(line)
    print(f"submitted {done.summary}")
    if done.url:
        print(f"  UI:     {done.url}")
    if done.store_warning:
        print(f"warning: {done.store_warning}", file=sys.stderr)
    else:
        print(f"  record: run {done.run_id} in {done.store_root}")
    engine_option = "" if engine.name == "kfp" else f" --engine {engine.name}"
    print(f"  follow: liminal-nb watch {done.run_id or done.remote_id}{engine_option} "
          f"--dir {notebook.parent or '.'}")
    return 0


def _wrap(parser: argparse.ArgumentParser, is_airflow: Any, name: str) -> None:
    original = parser.get_default("handler")

    def handler(args: argparse.Namespace) -> int:
        if is_airflow(args):
            from liminal_jupyter.engines.airflow import submit_commands

            return getattr(submit_commands, name)(args)
        return original(args)

    parser.set_defaults(handler=handler)


def _airflow_watch(args: argparse.Namespace) -> bool:
    if args.engine is not None:
        return args.engine == "airflow"
    from liminal_jupyter.engines.airflow.submit import find_record

    return "/" in args.run or find_record(args.dir, args.run) is not None


def _logs(args: argparse.Namespace, original: Any) -> int:
    """A run on an Airflow deployment: its task logs through the REST API."""
    from liminal_jupyter.engines.airflow.submit import is_remote
    from liminal_jupyter.runs.location import run_store_for
    from liminal_jupyter.runs.store import RunNotFound

    store = run_store_for(args.dir)
    try:
        run = store.get_run(args.run) if store.db_path.exists() else None
    except RunNotFound:
        run = None
    if run is None or not is_remote(run):
        return original(args)
    records = store.steps(run.run_id)
    if args.step:
        records = [r for r in records if r.step == args.step]
        if not records:
            return original(args)  # says which steps there are
    from liminal_jupyter.engines.airflow.submit_commands import remote_logs

    return remote_logs(args, store, run, records)
