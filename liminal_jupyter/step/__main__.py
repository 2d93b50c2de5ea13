"""`python -m liminal_jupyter.step run ...`: run one step from a command line.

The Kubeflow backend runs this very entry point inside a pod, and the local runner can
too, so a step runs the same way wherever it runs. Exit codes: 0 the step succeeded,
1 the step failed (its StepError, one paragraph, on stderr), 2 bad arguments.
`DIR/result.json` (the StepResult as JSON) is written atomically whenever the step ran.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from liminal_jupyter.atomic import atomic_write_text
from liminal_jupyter.pipeline import Pipeline
from liminal_jupyter.startup import skip_slow_optional_imports

RESULT = "result.json"

_EXAMPLE = """\
example:
  liminal-nb inspect iris.ipynb --json > pipeline.json
  python -m liminal_jupyter.step run --pipeline pipeline.json --step fetch --output-dir runs/fetch
  python -m liminal_jupyter.step run --pipeline pipeline.json --step prepare \\
      --output-dir runs/prepare --inputs runs/fetch/outputs.json --parameters params.json

--inputs (repeatable) is the outputs.json or result.json of a step that ran before, or a
JSON object mapping each variable the step reads to its saved-value record. PARAMS.json
maps parameter names to JSON values; parameters not given keep the notebook's defaults.
DIR receives step.ipynb, executed.ipynb, artifacts/, outputs.json and result.json.
"""


class _UsageError(Exception):
    """Bad arguments or unreadable input files: exit 2 with this message."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m liminal_jupyter.step",
        description="Run one step of a liminal-jupyter pipeline as a notebook, with papermill.",
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="render a step, execute it with papermill, save its outputs",
        description="Render a step into a notebook, execute it with papermill in a fresh "
        "kernel, save its outputs and metrics, and write DIR/result.json.",
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--pipeline", required=True, metavar="PIPELINE.json",
                     help="the pipeline IR, as written by `liminal-nb inspect --json`")
    run.add_argument("--step", required=True, metavar="NAME", help="the step to run")
    run.add_argument("--output-dir", required=True, metavar="DIR",
                     help="where the notebooks, artifacts and result.json go")
    run.add_argument("--inputs", metavar="INPUTS.json", action="append", default=[],
                     help="outputs.json of an upstream step, or saved-value records by name")
    run.add_argument("--parameters", metavar="PARAMS.json",
                     help="parameter values, by name (the notebook's defaults otherwise)")
    run.add_argument("--cwd", metavar="DIR",
                     help="working directory of the kernel (default: the notebook's directory)")
    run.add_argument("--kernel", metavar="NAME", help="kernel to use instead of the notebook's")
    run.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="time allowed for each cell")
    run.add_argument("--element", type=int, metavar="I",
                     help="for a step tagged foreach:NAME, the element of NAME to run "
                     "(0-based)")
    run.add_argument("--log-output", action="store_true",
                     help="log the cells' output while they run")
    run.add_argument("--html", metavar="PAGE.html",
                     help="also write the executed notebook as a standalone page, here (in "
                     "this process, whose notebook libraries are already loaded: a task "
                     "that rendered it itself paid their import again)")
    return parser


def main(argv: list[str] | None = None) -> int:
    skip_slow_optional_imports()
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from liminal_jupyter.step.execute import execute_step

    if args.log_output:
        # papermill logs cell output through its logger; without a handler it is dropped.
        import logging

        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger = logging.getLogger("papermill")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    pages = None
    if args.html:  # its libraries load in a child while the kernel starts
        from liminal_jupyter.step.pages import PageRenderer

        pages = PageRenderer(lambda text: print(f"warning: {text}", file=sys.stderr),
                             nice=0)
        pages.start()
    pipeline = _read_pipeline(args.pipeline)
    inputs: dict[str, Any] = {}
    for path in args.inputs:
        inputs.update(_read_inputs(path))
    parameters = _read_mapping(args.parameters, "--parameters") if args.parameters else {}
    try:
        result = execute_step(
            pipeline, args.step, parameters, inputs, args.output_dir, cwd=args.cwd,
            kernel_name=args.kernel, log_output=args.log_output, timeout=args.timeout,
            element=args.element,
        )
    except ValueError as exc:
        if pages is not None:
            pages.kill()
        raise _UsageError(str(exc)) from None
    record = Path(args.output_dir) / RESULT
    atomic_write_text(record, json.dumps(result.to_dict(), indent=2))
    if pages is not None:
        pages.submit(result.executed_notebook or Path(args.output_dir) / "executed.ipynb",
                     args.html)
        pages.close()
    if result.error is not None:
        print(result.error.render(), file=sys.stderr)
        return 1
    names = ", ".join(result.outputs) or "none"
    print(f"step '{result.step}' succeeded in {result.duration:.1f} s; outputs: {names}; "
          f"result: {record}")
    return 0


def _read_json(path: str, option: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _UsageError(f"{option} {path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise _UsageError(f"{option} {path}: not valid JSON ({exc})") from None


def _read_mapping(path: str, option: str) -> dict[str, Any]:
    data = _read_json(path, option)
    if not isinstance(data, dict):
        raise _UsageError(f"{option} {path}: expected a JSON object, got {type(data).__name__}")
    return data


def _read_inputs(path: str) -> dict[str, Any]:
    """Saved-value records by name, from a plain mapping or a step's outputs/result JSON;
    a name may map to a list of records (the outputs of a fan-out step, in element order)."""
    data = _read_mapping(path, "--inputs")
    if all(_record(v) or isinstance(v, list) and all(_record(r) for r in v)
           for v in data.values()):
        return data
    if isinstance(data.get("outputs"), dict):
        return data["outputs"]
    raise _UsageError(
        f"--inputs {path}: expected a step's outputs.json or result.json, or an object "
        "mapping variable names to saved-value records"
    )


def _record(value: Any) -> bool:
    return isinstance(value, dict) and "marshaller" in value


def _read_pipeline(path: str) -> Pipeline:
    data = _read_mapping(path, "--pipeline")
    try:
        return Pipeline.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise _UsageError(
            f"--pipeline {path}: not a pipeline IR ({type(exc).__name__}: {exc}); write one "
            "with `liminal-nb inspect NOTEBOOK --json`"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
