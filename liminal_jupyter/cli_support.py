"""What every command that takes a notebook does first: read it, check it, type the -p values.

One place, so `run`, `compile` and `submit` refuse a bad notebook or a bad parameter with the
same words and exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liminal_jupyter.pipeline import Pipeline


def add_parameter_arguments(parser: argparse.ArgumentParser) -> None:
    """-p and --params-file, read by `parameter_values`."""
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="set a parameter (typed by its declared type); repeatable")
    parser.add_argument("--params-file", metavar="FILE.yaml",
                        help="a YAML or JSON mapping of parameter values (-p wins)")


def load_valid_pipeline(notebook: Path) -> Pipeline | None:
    """The notebook's pipeline, or None after printing why it cannot be used."""
    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.notebook.parse import parse_notebook

    try:
        pipeline = parse_notebook(notebook)
    except NotebookError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.render(), file=sys.stderr)
        return None
    if not pipeline.valid:
        for diagnostic in pipeline.diagnostics:
            print(diagnostic.render(), file=sys.stderr)
        print("the pipeline has errors; `liminal-nb inspect` shows it.", file=sys.stderr)
        return None
    return pipeline


def parameter_values(pipeline: Pipeline, args: argparse.Namespace) -> dict[str, Any] | None:
    """Typed values of `--params-file` and `-p` (which wins), or None after printing why not."""
    from liminal_jupyter import params

    try:
        from_file = params.read_params_file(args.params_file) if args.params_file else {}
        return params.resolve(pipeline, from_file, params.parse_assignments(args.param))
    except params.ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
