"""`liminal-nb compile`: the pipeline as a file another system runs, for every engine that
compiles (the registry's engines whose capabilities say `compile`).

Each such engine adds its own options and help text; this module only chooses the
target, reads the notebook and hands over. Only argparse definitions run at import time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_INVALID = 2
DEFAULT_TARGET = "kfp"


def add_compile_command(commands: argparse._SubParsersAction) -> None:
    from liminal_jupyter.engines import registry

    targets = registry.names(compile=True)
    targets.sort(key=lambda name: name != DEFAULT_TARGET)  # the default's help comes first
    compile_ = commands.add_parser(
        "compile", help="compile the notebook's pipeline to "
        + " or ".join(registry.get_engine(t).name for t in targets) + " (default "
        f"{DEFAULT_TARGET})", formatter_class=argparse.RawDescriptionHelpFormatter)
    compile_.add_argument("notebook", help="path of the .ipynb file")
    compile_.add_argument("--target", choices=targets,
                          default=DEFAULT_TARGET if DEFAULT_TARGET in targets else targets[0],
                          help="what to compile to: " + "; ".join(
                              f"{t}: {registry.get_engine(t).description}" for t in targets))
    compile_.add_argument("-o", "--output", metavar="PATH",
                          help="where to write the YAML (default: NOTEBOOK_STEM.pipeline.yaml "
                          "next to the notebook) or the DAG (default: dags/<pipeline>.py "
                          "next to the notebook)")
    compile_.add_argument("--image", metavar="IMG",
                          help="container image for every step (overrides image: tags and the "
                          "liminal.image setting); with --target airflow, for the kubernetes "
                          "operator")
    compile_.add_argument("--workspace-uri", metavar="FOLDER_OR_URL",
                          help="where the workspace archive (the files beside the notebook "
                          "the steps read) is stored for the steps to fetch: a shared path "
                          "or an fsspec URL such as s3://bucket/folder (default: the "
                          "liminal.workspace_uri setting; kfp embeds archives under 1 MiB in "
                          "the YAML, airflow stores it next to the run folders)")
    from liminal_jupyter.engines.kfp.commands import add_runtime_install_arguments

    add_runtime_install_arguments(compile_)
    descriptions, epilogs = [], []
    for target in targets:
        description, epilog = registry.get_engine(target).add_compile_arguments(compile_)
        descriptions.append(description)
        epilogs.append(epilog if not epilogs else f"--target {target}:\n{epilog}")
    compile_.description = "\n".join(descriptions)
    compile_.epilog = "\n".join(epilogs)
    compile_.set_defaults(handler=_compile)


def _compile(args: argparse.Namespace) -> int:
    from liminal_jupyter.cli_support import load_valid_pipeline
    from liminal_jupyter.engines.registry import get_engine

    notebook = Path(args.notebook)
    pipeline = load_valid_pipeline(notebook)
    if pipeline is None:
        return EXIT_INVALID
    return get_engine(args.target).compile_from_args(args, pipeline, notebook)
