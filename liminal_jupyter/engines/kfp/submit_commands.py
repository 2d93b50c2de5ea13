"""`liminal-nb submit` and `liminal-nb watch`: run a notebook's pipeline on Kubeflow Pipelines.

Only the argparse definition lives at import time; kfp is imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

_SUBMIT_HELP = """\
Compile the notebook's pipeline (as `liminal-nb compile` does) and create a run of it on a
Kubeflow Pipelines cluster with the kfp client. The run goes into an experiment: --experiment,
else the notebook's liminal.experiment setting, else the pipeline name; a missing experiment
is created (and the command says so) unless --no-create-experiment is given.

Authentication: --token, else $KF_PIPELINES_TOKEN, else kfp's own context
(~/.config/kfp/context.json); --cookies passes a Cookie header for Dex-style auth, e.g.
--cookies "authservice_session=...".

The run is recorded in the notebook folder's run store (backend kfp), so `liminal-nb runs`
lists it with the local runs; `liminal-nb watch KFP_RUN_ID` follows it to its end.
Exit status: 0 when the run was created, 2 for bad input (a notebook with errors, a bad
-p, an experiment that does not exist with --no-create-experiment), 1 when the cluster
cannot be reached, refuses the credentials, or refuses the run.
"""

_SUBMIT_EPILOG = """\
examples:
  liminal-nb submit train.ipynb --host http://localhost:8080 -p n_estimators=50
  KF_PIPELINES_TOKEN=... liminal-nb submit train.ipynb --host https://kf.example.com/pipeline \\
      --experiment nightly --run-name "train 2026-11-26"
"""

_WATCH_HELP = """\
Follow a run on Kubeflow Pipelines until it ends: print each change of its state (and of
its tasks), then its outcome. When the run was submitted from this folder (or --dir), its
record in the run store is updated too, and --host may be left out.
Ctrl-C stops watching; the run goes on.
Exit status: 0 when the run succeeded, 1 when it failed, was cancelled or errored (its error
message is printed) or the cluster cannot be reached or refuses the credentials, 2 for bad
input (an unknown run id, no --host).
"""


def _add_token(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", metavar="TOKEN",
                        help="bearer token (kfp: default $KF_PIPELINES_TOKEN, else kfp's "
                        "context; airflow: default $LIMINAL_AIRFLOW_TOKEN)")


def _add_connection(parser: argparse.ArgumentParser, host_required: bool) -> None:
    parser.add_argument("--host", required=host_required, metavar="URL",
                        help="the API endpoint: KFP's, e.g. http://localhost:8080, or the "
                        "Airflow api-server's")
    _add_token(parser)
    parser.add_argument("--cookies", metavar="COOKIES",
                        help="Cookie header to send, for Dex/oauth2-proxy sessions")
    parser.add_argument("--namespace", metavar="NS",
                        help="Kubernetes namespace (multi-user Kubeflow)")


def add_submit_commands(commands: argparse._SubParsersAction) -> None:
    from liminal_jupyter.cli_support import add_parameter_arguments
    from liminal_jupyter.engines.kfp.commands import add_runtime_install_arguments

    raw = argparse.RawDescriptionHelpFormatter
    submit = commands.add_parser(
        "submit", help="compile the notebook's pipeline and run it on Kubeflow Pipelines "
        "(or an Airflow 3 deployment with --engine airflow)",
        description=_SUBMIT_HELP, epilog=_SUBMIT_EPILOG, formatter_class=raw)
    submit.add_argument("notebook", help="path of the .ipynb file")
    _add_connection(submit, host_required=False)
    submit.add_argument("--experiment", metavar="NAME",
                        help="KFP experiment (default: the notebook's experiment setting, "
                        "else the pipeline name)")
    submit.add_argument("--no-create-experiment", action="store_true",
                        help="fail instead of creating a missing experiment")
    submit.add_argument("--run-name", metavar="NAME",
                        help="display name of the run (default: pipeline name and time)")
    add_parameter_arguments(submit)
    submit.add_argument("--image", metavar="IMG",
                        help="container image for every step (as in `liminal-nb compile`)")
    submit.add_argument("--workspace-uri", metavar="FOLDER_OR_URL",
                        help="where a workspace archive over 1 MiB is stored for the steps to "
                        "fetch (as in `liminal-nb compile`; default: liminal.workspace_uri)")
    add_runtime_install_arguments(submit)
    # The handler is the CLI's (cli_submit.submit_through_engine): Engine.submit of the
    # engine --engine names, this one by default.

    watch = commands.add_parser(
        "watch", help="follow a Kubeflow Pipelines or Airflow run until it ends; exit with its "
        "outcome",
        description=_WATCH_HELP, formatter_class=raw,
        epilog="examples:\n  liminal-nb watch 3f1c...-9a2e --host http://localhost:8080\n"
        "  liminal-nb watch 3f1c...-9a2e --dir notebooks/   (host from the run store)")
    watch.add_argument("run", help="the KFP run id (or the run store's id of a submitted run; "
                       "for Airflow, also DAG_ID/DAG_RUN_ID)")
    _add_connection(watch, host_required=False)
    watch.add_argument("--dir", default=".",
                       help="the notebook's folder, whose run store records the run "
                       "(default: .)")
    watch.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                       help="seconds between polls (default 5)")
    watch.set_defaults(handler=_watch)


def _watch(args: argparse.Namespace) -> int:
    from liminal_jupyter.engines.kfp.submit import (
        FINAL_STATES,
        KfpError,
        RunState,
        connect,
        find_record,
        follow,
        record_state,
    )

    if args.interval <= 0:
        print("error: --interval must be more than 0 seconds.", file=sys.stderr)
        return EXIT_INVALID
    found = find_record(args.dir, args.run)
    store, record = found if found else (None, None)
    remote_id = record.remote_id if record else args.run
    host = (args.host or (record.host if record else None) or "").rstrip("/")
    if not host:
        print(f"error: no --host given and no submitted run {args.run!r} recorded in "
              f"{Path(args.dir).resolve()}: pass --host URL (and --dir NOTEBOOK_FOLDER).",
              file=sys.stderr)
        return EXIT_INVALID

    def show(state: RunState) -> None:
        tasks = ", ".join(f"{name} {task}" for name, task in sorted(state.tasks.items()))
        print(f"{time.strftime('%H:%M:%S')}  {state.state}" + (f"  ({tasks})" if tasks else ""),
              flush=True)
        if store is not None:
            record_state(store, record.run_id, state)

    try:
        client = connect(host, args.token, args.cookies, args.namespace)
        final = follow(client, host, remote_id, args.interval, show)
    except KfpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"stopped watching; the run goes on: liminal-nb watch {remote_id} --host {host}",
              file=sys.stderr)
        return 130
    outcome = FINAL_STATES[final.state]
    if outcome == "succeeded":
        print(f"run {remote_id} succeeded")
        return EXIT_OK
    print(f"run {remote_id} {outcome} ({final.state})"
          + (f": {final.error}" if final.error else ""), file=sys.stderr)
    return EXIT_FAILED

