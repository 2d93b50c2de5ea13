"""The Airflow half of `liminal-nb compile --target airflow` (`run --backend airflow` is the
engine in engine.py).

Only argparse definitions run at import time; Airflow itself is imported by nothing here
(the DAG file is text, and a run talks to Airflow through its command line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

COMPILE_HELP = """\
--target airflow writes an Apache Airflow 3 DAG file instead (airflow.sdk API): one task
per step running the step's cells with the same step executor, the pipeline's data and
order edges as task dependencies, each parameter as a typed Param (a DAG run's conf
overrides it), retries: and timeout: tags as the task's retries and execution_timeout,
the notebook's liminal.schedule setting as the schedule. Each run keeps its step
notebooks and saved values in ARTIFACTS/<run id>/<step>/ (--artifacts, else the
liminal.artifacts setting, else .liminal/airflow next to the notebook; an fsspec URL such
as s3://bucket/path for workers that share no disk). Airflow is not needed to compile;
the workers need liminal-jupyter (pip install 'liminal-jupyter[airflow]').
"""

COMPILE_EPILOG = """\
  liminal-nb compile train.ipynb --target airflow    writes dags/<pipeline>.py next to it
  liminal-nb compile train.ipynb --target airflow -o ~/airflow/dags/train.py \\
      --artifacts s3://ml-bucket/runs
  liminal-nb compile train.ipynb --target airflow --airflow-operator kubernetes \\
      --image registry/ml:1.2 --artifacts s3://ml-bucket/runs
  airflow dags test <pipeline> --conf '{"n_estimators": 50}'     run the DAG once
"""


def add_compile_arguments(compile_: argparse.ArgumentParser) -> None:
    """The options of `compile` that only --target airflow reads."""
    group = compile_.add_argument_group("--target airflow")
    group.add_argument("--artifacts", metavar="PATH_OR_URL",
                       help="root of the run folders (default: the liminal.artifacts "
                       "setting, else .liminal/airflow next to the notebook)")
    group.add_argument("--artifacts-connection", metavar="CONN_ID",
                       help="an Airflow connection id (type aws) whose keys the tasks use "
                       "for s3:// artifacts; the DAG names the id, never a key (default: "
                       "liminal.airflow artifacts_connection; python operator only)")
    group.add_argument("--airflow-operator", choices=("python", "bash", "kubernetes"),
                       default="python",
                       help="python (default): a PythonOperator per step; bash: a "
                       "BashOperator running the step command; kubernetes: a "
                       "KubernetesPodOperator per step (cncf provider) with the step's image "
                       "and resources")
    group.add_argument("--dag-id", metavar="ID",
                       help="the DAG's id (default: the pipeline name)")


def compile_airflow(args: argparse.Namespace, pipeline: Any, notebook: Path) -> int:
    from liminal_jupyter.engines.airflow.compile import (
        CompileError,
        DagOptions,
        default_dag_path,
        write_dag,
    )

    if args.python:
        print("error: --python is for --target kfp; the Airflow DAG is Python already.",
              file=sys.stderr)
        return EXIT_INVALID
    options = DagOptions(operator=args.airflow_operator, artifacts=args.artifacts,
                         artifacts_connection=args.artifacts_connection,
                         image=args.image, dag_id=args.dag_id,
                         workspace_uri=args.workspace_uri,
                         install_runtime=args.install_runtime, index_urls=args.index_urls)
    path = Path(args.output) if args.output else default_dag_path(notebook, pipeline)
    try:
        result = write_dag(pipeline, path, options)
    except CompileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {result.path} (DAG {result.dag_id}; artifacts under {result.artifacts})")
    return EXIT_OK
