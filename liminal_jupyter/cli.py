"""`liminal-nb`: the terminal front of liminal-jupyter.

argparse (stdlib, instant to import) with one sub-command per job; each command imports
what it needs when it runs, so `liminal-nb --help` and `liminal-nb inspect` stay fast.
Exit codes: 0 success, 2 bad input (a notebook with errors, a usage error), 1 a failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from liminal_jupyter.startup import skip_slow_optional_imports

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

_DESCRIPTION = """\
Turn a tagged Jupyter notebook into an ML pipeline.

Tag cells in JupyterLab (the cell inspector's tag editor): `step:NAME` starts a step,
`parameters` marks papermill's parameters cell, `imports` and `functions` are run before
every step, `metrics` lists values to log. The data that flows between steps is found
from the code. A notebook with no tags at all is a one-step pipeline.
"""

_EPILOG = """\
examples:
  liminal-nb inspect example_notebooks/iris_classification.ipynb
  liminal-nb run example_notebooks/iris_classification.ipynb -p n_estimators=50
  liminal-nb runs example_notebooks/iris_classification.ipynb
  liminal-nb show RUN_ID
  liminal-nb logs RUN_ID train
  liminal-nb report RUN_ID -o report.html
  liminal-nb compile example_notebooks/iris_classification.ipynb -o iris.yaml
  liminal-nb compile example_notebooks/iris_classification.ipynb --target airflow
  liminal-nb run example_notebooks/iris_classification.ipynb --backend airflow
  liminal-nb submit example_notebooks/iris_classification.ipynb --host http://kfp.example
  liminal-nb watch RUN_ID --dir example_notebooks
  liminal-nb deploy iris-classification --dir example_notebooks
  liminal-nb predict iris-classification rows.csv --dir example_notebooks
  liminal-nb monitor iris-classification new_rows.csv --dir example_notebooks
  liminal-nb test example_notebooks/ --both --junit notebooks.xml

Run `liminal-nb COMMAND --help` for the options of a command.
"""

_INSPECT_HELP = """\
Print the pipeline a notebook defines: its parameters with types and defaults, its steps in
the order they run with their cells, phase, options, inputs (and the step that produces
each) and outputs, then any warnings and errors. Nothing is run and nothing is written.
Exit status: 0 when the pipeline is valid, 2 when it has errors.
"""

_INSPECT_EPILOG = """\
examples:
  liminal-nb inspect train.ipynb            readable summary
  liminal-nb inspect train.ipynb --json     the pipeline IR as JSON (schema: docs/ir.md)
  liminal-nb inspect train.ipynb --graph    the DAG as Mermaid text, for a README or a cell
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liminal-nb",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    inspect = commands.add_parser(
        "inspect",
        help="show the pipeline a notebook defines (steps, data flow, errors)",
        description=_INSPECT_HELP,
        epilog=_INSPECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("notebook", help="path of the .ipynb file")
    shape = inspect.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the pipeline IR as JSON")
    shape.add_argument("--graph", action="store_true", help="print the DAG as Mermaid text")
    inspect.set_defaults(handler=_inspect)
    from liminal_jupyter.cli_compile import add_compile_command
    from liminal_jupyter.cli_image import add_image_command
    from liminal_jupyter.cli_run import add_run_command
    from liminal_jupyter.deploy.commands import add_deploy_commands, add_monitor_command
    from liminal_jupyter.engines import registry
    from liminal_jupyter.nbtest.commands import add_test_command
    from liminal_jupyter.runs.commands import add_runs_commands
    from liminal_jupyter.runs.report_command import add_report_command

    add_run_command(commands)
    add_runs_commands(commands)
    add_report_command(commands)
    add_compile_command(commands)
    add_image_command(commands)
    for engine in registry.engines().values():  # an engine's own commands (kfp: submit, watch)
        if hasattr(engine, "add_commands"):
            engine.add_commands(commands)
    from liminal_jupyter.cli_submit import extend_remote_commands

    extend_remote_commands(commands)
    add_deploy_commands(commands)
    add_monitor_command(commands)
    add_test_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    skip_slow_optional_imports()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_INVALID
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:
        if exc.filename is None:
            raise
        # A file or folder the command needed could not be read or written (a read-only or
        # full disk, a folder that is a file, permissions): one line, not a traceback.
        print(f"error: {exc.filename}: {exc.strerror or exc}.", file=sys.stderr)
        return EXIT_FAILED


def _inspect(args: argparse.Namespace) -> int:
    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.notebook.parse import parse_notebook

    try:
        pipeline = parse_notebook(args.notebook)
    except NotebookError as exc:
        if args.json:
            errors = [d.to_json() for d in exc.diagnostics]
            print(json.dumps({"valid": False, "errors": errors, "warnings": []}, indent=2))
        else:
            for diagnostic in exc.diagnostics:
                print(diagnostic.render(), file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps(pipeline.to_json(), indent=2, default=str))
    elif args.graph:
        from liminal_jupyter.mermaid import to_mermaid

        print(to_mermaid(pipeline))
        for diagnostic in pipeline.errors:
            print(diagnostic.render(), file=sys.stderr)
    else:
        from liminal_jupyter.describe import describe

        print(describe(pipeline))
    return EXIT_OK if pipeline.valid else EXIT_INVALID


def _version() -> str:
    from liminal_jupyter import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
