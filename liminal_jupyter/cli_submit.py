"""`submit`, `watch` and `logs` across engines: `--engine kfp|airflow` picks where a run goes.

The KFP engine defines `submit` and `watch`, the runs ledger defines `logs`; engines never
import each other and runs/ imports no engine, so this face module (the CLI) adds the
Airflow options to those parsers and dispatches: `--engine airflow` (or a run the store
records as submitted to an Airflow deployment, or DAG_ID/DAG_RUN_ID, which a KFP run id
never is) goes to engines/airflow/submit_commands.py, everything else where it went before.
kfp stays the default of `submit`.
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
        _wrap(submit, lambda args: args.engine == "airflow", "submit_airflow")
    if watch is not None:
        _wrap(watch, _airflow_watch, "watch_airflow")
    if logs is not None:
        for name, env in (("username", "USERNAME"), ("password", "PASSWORD"),
                          ("token", "TOKEN")):
            logs.add_argument(f"--{name}", help=f"a run on Airflow: its {name} (default: "
                              f"$LIMINAL_AIRFLOW_{env})")
        original = logs.get_default("handler")
        logs.set_defaults(handler=lambda args: _logs(args, original))


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
