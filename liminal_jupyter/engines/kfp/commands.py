"""`liminal-nb compile`: a notebook's pipeline as Kubeflow Pipelines v2 IR YAML, or with
--target airflow as an Airflow DAG file (liminal_jupyter/engines/airflow/commands.py).

Only the argparse definition lives at import time; kfp is imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

_COMPILE_HELP = """\
Compile the notebook's pipeline to Kubeflow Pipelines v2 (KFP IR YAML), with the kfp SDK's
compiler. Each step becomes a lightweight Python component that runs the step's cells
with the same step executor as `liminal-nb run`; the data between steps travels as KFP
artifacts, parameters become typed pipeline parameters, and step options (retries, cpu,
memory, gpu, cache, env, image, timeout) become task settings. secret: tags and pod
annotations/labels need kfp-kubernetes and are reported, not compiled.

The image (--image, else a step's image: tag, else the notebook's liminal.image setting,
else python:3.11) must have liminal-jupyter and the kernel installed; the notebook's
liminal.requirements are pip-installed at task start. In a pod there is no notebook
folder: steps run in a fresh temporary working directory ($LIMINAL_WORKDIR if set), so
relative paths do not point next to the notebook.

Exit status: 0 when written, 2 for a notebook with errors, 1 when kfp refuses it.

"""

_COMPILE_EPILOG = """\
examples:
  liminal-nb compile train.ipynb                     writes train.pipeline.yaml next to it
  liminal-nb compile train.ipynb -o build/train.yaml --image registry/ml:1.2
  liminal-nb compile train.ipynb --python           also writes train_kfp.py (the KFP DSL)

Upload the YAML in the Kubeflow Pipelines UI, or run it without a cluster:
  python -c "from kfp import local, components; \\
    local.init(runner=local.SubprocessRunner(use_venv=False)); \\
    components.load_component_from_file('train.pipeline.yaml')(n_estimators=20)"

Apache Airflow:
"""


def add_compile_command(commands: argparse._SubParsersAction) -> None:
    from liminal_jupyter.engines.airflow import commands as airflow

    compile_ = commands.add_parser(
        "compile", help="compile the notebook's pipeline to Kubeflow Pipelines v2 YAML or an "
        "Airflow DAG", description=_COMPILE_HELP + airflow.COMPILE_HELP,
        epilog=_COMPILE_EPILOG + airflow.COMPILE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    compile_.add_argument("notebook", help="path of the .ipynb file")
    compile_.add_argument("--target", choices=("kfp", "airflow"), default="kfp",
                          help="kfp (default): Kubeflow Pipelines v2 YAML; airflow: an "
                          "Apache Airflow 3 DAG file")
    compile_.add_argument("-o", "--output", metavar="PATH",
                          help="where to write the YAML (default: NOTEBOOK_STEM.pipeline.yaml "
                          "next to the notebook) or the DAG (default: dags/<pipeline>.py "
                          "next to the notebook)")
    compile_.add_argument("--python", action="store_true",
                          help="also write the generated KFP DSL module (NOTEBOOK_STEM_kfp.py, "
                          "next to the YAML)")
    compile_.add_argument("--image", metavar="IMG",
                          help="container image for every step (overrides image: tags and the "
                          "liminal.image setting); with --target airflow, for the kubernetes "
                          "operator")
    airflow.add_compile_arguments(compile_)
    compile_.set_defaults(handler=_compile)


def _compile(args: argparse.Namespace) -> int:
    from liminal_jupyter.cli_support import load_valid_pipeline
    from liminal_jupyter.engines.kfp.compile import CompileError, compile_pipeline

    notebook = Path(args.notebook)
    pipeline = load_valid_pipeline(notebook)
    if pipeline is None:
        return EXIT_INVALID
    if args.target == "airflow":
        from liminal_jupyter.engines.airflow.commands import compile_airflow

        return compile_airflow(args, pipeline, notebook)
    stem = notebook.name[: -len(".ipynb")] if notebook.name.endswith(".ipynb") else notebook.stem
    yaml_path = Path(args.output) if args.output else notebook.with_name(f"{stem}.pipeline.yaml")
    python_path = yaml_path.with_name(f"{stem}_kfp.py") if args.python else None
    try:
        result = compile_pipeline(pipeline, yaml_path, image=args.image, python_path=python_path)
    except CompileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {result.yaml_path}" + (f" and {result.python_path}" if result.python_path
                                         else ""))
    return EXIT_OK
