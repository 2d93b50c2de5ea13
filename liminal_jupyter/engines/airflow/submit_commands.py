"""`liminal-nb submit --engine airflow`, `watch`, `logs` and `cancel` of runs on an Airflow 3
deployment. The `submit` and `watch` parsers are KFP's (engines/kfp/submit_commands.py);
liminal_jupyter/cli_submit.py adds --engine and these options to them and picks the
engine (engines never import each other); `cancel` is the Airflow engine's own.

Nothing heavy is imported at import time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

SUBMIT_HELP = """\
--engine airflow writes the DAG file (as `compile --target airflow` does, the workspace
packed beside the artifacts) atomically into --dags-folder, waits until the deployment's
dag-processor has parsed it (an import error is reported with Airflow's message and the
file's line), unpauses the DAG and triggers a run whose conf is the -p values. --host is
the api-server's URL. Credentials: --token, or --username and --password (a JWT from
/auth/token), else $LIMINAL_AIRFLOW_TOKEN, $LIMINAL_AIRFLOW_USERNAME and
$LIMINAL_AIRFLOW_PASSWORD; the notebook's liminal.airflow metadata may give host,
dags_folder, artifacts and username (never secrets: they are not recorded anywhere).
"""


def add_airflow_options(parser: argparse.ArgumentParser, submit: bool) -> None:
    """The options only --engine airflow reads (host and token are shared with KFP)."""
    group = parser.add_argument_group("--engine airflow")
    group.add_argument("--username", metavar="USER",
                       help="Airflow user (default: $LIMINAL_AIRFLOW_USERNAME, else the "
                       "notebook's liminal.airflow username)")
    group.add_argument("--password", metavar="PASSWORD",
                       help="its password (default: $LIMINAL_AIRFLOW_PASSWORD)")
    if submit:
        group.add_argument("--dags-folder", metavar="DIR",
                           help="the deployment's DAG folder (default: the notebook's "
                           "liminal.airflow dags_folder)")
        group.add_argument("--artifacts", metavar="PATH_OR_URL",
                           help="where tasks keep run folders (default: liminal.artifacts, "
                           "else .liminal/airflow next to the notebook)")
        group.add_argument("--artifacts-connection", metavar="CONN_ID",
                           help="an Airflow connection id (type aws) whose keys the tasks "
                           "use for s3:// artifacts; the DAG names the id, never a key "
                           "(default: liminal.airflow artifacts_connection)")
        group.add_argument("--dag-id", metavar="ID", help="the DAG's id (default: the "
                           "pipeline name)")
        group.add_argument("--parse-timeout", type=float, default=120.0, metavar="SECONDS",
                           help="how long to wait for the DAG to be parsed (default 120)")


def _client(args: argparse.Namespace, host: str, settings: dict[str, Any] | None = None):
    from liminal_jupyter.engines.airflow.rest import AirflowClient, Credentials

    return AirflowClient(host, Credentials.resolve(args.username, args.password, args.token,
                                                   settings))


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return getattr(exc, "exit_code", EXIT_FAILED)


def watch_airflow(args: argparse.Namespace) -> int:
    from liminal_jupyter.engines.airflow.rest import AirflowError
    from liminal_jupyter.engines.airflow.submit import (
        FINAL_STATES,
        TASK_STATES,
        RunState,
        find_record,
        follow,
        record_state,
        split_remote_id,
    )

    if args.interval <= 0:
        print("error: --interval must be more than 0 seconds.", file=sys.stderr)
        return EXIT_INVALID
    found = find_record(args.dir, args.run)
    store, record = found if found else (None, None)
    host = (args.host or (record.host if record else None) or "").rstrip("/")
    try:
        dag_id, dag_run_id = split_remote_id(record.remote_id if record else args.run)
    except AirflowError as exc:
        return _fail(exc)
    if not host:
        print(f"error: no --host given and no submitted run {args.run!r} recorded in "
              f"{Path(args.dir).resolve()}: pass --host URL (and --dir NOTEBOOK_FOLDER).",
              file=sys.stderr)
        return EXIT_INVALID
    client = _client(args, host)
    seen: dict[str, str] = {}
    errors: dict[str, str] = {}

    def show(state: RunState) -> None:
        stamp = time.strftime("%H:%M:%S")
        for task_id, ti in sorted(state.tasks.items(),
                                  key=lambda item: item[1].get("start_date") or "~"):
            status = TASK_STATES.get(ti.get("state"), str(ti.get("state")))
            if seen.get(task_id) != status:
                seen[task_id] = status
                took = ti.get("duration")
                extra = f" ({took:.1f} s)" if took and status not in ("waiting",
                                                                       "running") else ""
                print(f"{stamp}  {task_id:<16} {status}{extra}", flush=True)
        if store is not None:
            errors.update(record_state(store, record.run_id, state, client))

    try:
        final = follow(client, dag_id, dag_run_id, args.interval, show)
    except AirflowError as exc:
        if store is None and exc.exit_code == EXIT_INVALID:
            return _fail(AirflowError(f"{exc}: check the run (`liminal-nb runs` lists "
                                      "submitted runs)", EXIT_INVALID))
        return _fail(exc)
    except KeyboardInterrupt:
        print(f"stopped watching; the run goes on: liminal-nb watch {args.run}",
              file=sys.stderr)
        return 130
    outcome = FINAL_STATES[final.state]
    if outcome == "succeeded":
        print(f"run {dag_run_id} succeeded")
        return EXIT_OK
    print(f"run {dag_run_id} {outcome}", file=sys.stderr)
    for error in errors.values():
        print(error, file=sys.stderr)
    return EXIT_FAILED


def remote_logs(args: argparse.Namespace, store: Any, run: Any, steps: list[Any]) -> int:
    """`liminal-nb logs RUN [STEP]` of a submitted Airflow run: the task logs from the API."""
    from liminal_jupyter.engines.airflow.rest import AirflowError
    from liminal_jupyter.engines.airflow.submit import split_remote_id

    dag_id, dag_run_id = split_remote_id(run.remote_id)
    client = _client(args, run.host)
    try:
        tries = {ti["task_id"]: ti for ti in client.task_instances(dag_id, dag_run_id)}
        for record in steps:
            ti = tries.get(record.step) or {}
            if len(steps) > 1:
                print(f"===== {record.step} ({ti.get('state') or record.status})")
            if not ti.get("try_number"):
                print(f"(step {record.step} has not started)")
                continue
            sys.stdout.write(client.task_log(dag_id, dag_run_id, record.step,
                                             ti["try_number"]))
    except AirflowError as exc:
        return _fail(exc)
    return EXIT_OK


def add_cancel_command(commands: argparse._SubParsersAction) -> None:
    cancel = commands.add_parser(
        "cancel", help="cancel a run submitted to Airflow (mark its DAG run failed)",
        description="Cancel a DAG run submitted with `liminal-nb submit --engine airflow`: "
        "it is marked failed, so Airflow stops its running tasks and starts no more; the "
        "run store records it cancelled. RUN is the run id `liminal-nb runs` shows (or "
        "DAG_ID/DAG_RUN_ID with --host).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  liminal-nb cancel 20261205-131500-ab12 --dir notebooks/")
    cancel.add_argument("run", help="run id (or DAG_ID/DAG_RUN_ID with --host)")
    cancel.add_argument("--host", metavar="URL", help="the api-server (default: the run's)")
    cancel.add_argument("--token", metavar="TOKEN",
                        help="bearer token (default: $LIMINAL_AIRFLOW_TOKEN)")
    add_airflow_options(cancel, submit=False)
    cancel.add_argument("--dir", default=".", help="the notebook's folder (default: .)")
    cancel.set_defaults(handler=_cancel)


def _cancel(args: argparse.Namespace) -> int:
    from liminal_jupyter.engines.airflow.rest import AirflowError
    from liminal_jupyter.engines.airflow.submit import cancel, find_record, split_remote_id

    found = find_record(args.dir, args.run)
    store, record = found if found else (None, None)
    host = (args.host or (record.host if record else "") or "").rstrip("/")
    try:
        dag_id, dag_run_id = split_remote_id(record.remote_id if record else args.run)
        if not host:
            raise AirflowError(f"no submitted Airflow run {args.run!r} recorded in "
                               f"{Path(args.dir).resolve()}: pass --dir or --host",
                               EXIT_INVALID)
        cancel(_client(args, host), dag_id, dag_run_id)
    except AirflowError as exc:
        return _fail(exc)
    if store is not None:
        store.finish_run(record.run_id, "cancelled", "cancelled with liminal-nb cancel")
    print(f"cancelled DAG run {dag_run_id} of {dag_id} (marked failed on {host})")
    return EXIT_OK
