"""The Kubeflow Pipelines half of `liminal-nb compile` (the command itself is
liminal_jupyter/cli_compile.py, which asks every engine that compiles for its options).

Only argparse definitions live at import time; kfp is imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

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
folder: steps run in a fresh temporary working directory ($LIMINAL_WORKDIR if set) that
holds the workspace, the files beside the notebook the steps read (inside the YAML when
under 1 MiB, else fetched from --workspace-uri), so relative paths and local imports work
as next to the notebook.

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
"""


def add_compile_arguments(compile_: argparse.ArgumentParser) -> tuple[str, str]:
    """The options of `compile` that only --target kfp reads; (help, epilog) text."""
    group = compile_.add_argument_group("--target kfp")
    group.add_argument("--python", action="store_true",
                       help="also write the generated KFP DSL module (NOTEBOOK_STEM_kfp.py, "
                       "next to the YAML)")
    return _COMPILE_HELP, _COMPILE_EPILOG


def add_runtime_install_arguments(group: Any) -> None:
    """--install-runtime / --index-url: how steps in a stock image get liminal-jupyter
    (compile and submit both take them)."""
    group.add_argument("--install-runtime", action=argparse.BooleanOptionalAction,
                       default=None,
                       help="steps install liminal-jupyter (this exact version), the runtime it "
                       "needs, kfp and liminal.requirements when they start (KFP components; "
                       "Airflow's kubernetes operator pods). Default: only in a stock python "
                       "image (no image set, or python:*); other images are taken to have "
                       "them (`liminal-nb image` builds one). Also the liminal.install_runtime "
                       "setting")
    group.add_argument("--index-url", metavar="URL", action="append", dest="index_urls",
                       help="the package index steps install from (repeat for more: the "
                       "first replaces pip's index, the others are extra ones; default: the "
                       "liminal.index_url setting, else $LIMINAL_INDEX_URL, else the image's "
                       "pip configuration)")


def compile_kfp(args: argparse.Namespace, pipeline: Any, notebook: Path) -> int:
    from liminal_jupyter.engines.kfp.compile import CompileError, compile_pipeline

    stem = notebook.name[: -len(".ipynb")] if notebook.name.endswith(".ipynb") else notebook.stem
    yaml_path = Path(args.output) if args.output else notebook.with_name(f"{stem}.pipeline.yaml")
    python_path = yaml_path.with_name(f"{stem}_kfp.py") if args.python else None
    try:
        result = compile_pipeline(pipeline, yaml_path, image=args.image, python_path=python_path,
                                  workspace_uri=args.workspace_uri,
                                  install_runtime=args.install_runtime,
                                  index_urls=args.index_urls)
    except CompileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {result.yaml_path}" + (f" and {result.python_path}" if result.python_path
                                         else ""))
    return EXIT_OK
