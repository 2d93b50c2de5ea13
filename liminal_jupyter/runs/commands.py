"""`liminal-nb runs`, `show` and `logs`: the runs ledger from a terminal, for every engine.

They read only the run store (runs/store.py), so they show a run the same way whichever
engine made it. Only argparse definitions live at import time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def add_runs_commands(commands: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    runs = commands.add_parser(
        "runs", help="list recorded runs",
        description="List the runs recorded next to a notebook (local and submitted), newest "
        "first. A run whose runner died shows as interrupted.",
        epilog="examples:\n  liminal-nb runs train.ipynb\n  liminal-nb runs . --json",
        formatter_class=raw)
    runs.add_argument("path", nargs="?", default=".",
                      help="a notebook, or a folder whose .liminal/ to read (default: .)")
    runs.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=_reading_the_store(_runs))

    show = commands.add_parser(
        "show", help="show one run (steps, states, outputs, metrics), or one value it kept",
        description="Show a run's steps with their state, duration, inputs, outputs, "
        "metrics, what was not kept and why and, for a failed step, the error. With VAR, "
        "show that value instead (type, shape, head), or write it with --export. RUN may "
        "be a unique prefix of a run id.",
        epilog="examples:\n  liminal-nb show 20261126-1204\n  liminal-nb show 20261126 --dir "
        "example_notebooks --json\n  liminal-nb show 20261126-1204 total\n"
        "  liminal-nb show 20261126-1204 features --export features.parquet",
        formatter_class=raw)
    show.add_argument("run", help="run id (or a unique prefix)")
    show.add_argument("variable", nargs="?", metavar="VAR",
                      help="a value the run kept: print its type, shape and head")
    show.add_argument("--step", help="with VAR: the step that kept it (default: the last)")
    show.add_argument("--export", metavar="FILE",
                      help="with VAR: write it to FILE, as .csv, .parquet or .json")
    show.add_argument("--dir", default=".", help="the notebook's folder (default: .)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_reading_the_store(_show))

    logs = commands.add_parser(
        "logs", help="print the log of a run's steps",
        description="Print the log of one step of a run (its cells' output, as papermill "
        "logged it), or of every step in run order.",
        epilog="examples:\n  liminal-nb logs 20261126-1204 train\n  liminal-nb logs 20261126-1204",
        formatter_class=raw)
    logs.add_argument("run", help="run id (or a unique prefix)")
    logs.add_argument("step", nargs="?", help="one step (default: all)")
    logs.add_argument("--dir", default=".", help="the notebook's folder (default: .)")
    logs.set_defaults(handler=_reading_the_store(_logs))



def _reading_the_store(handler: Any) -> Any:
    """An index that cannot be read (a full disk, a broken file) is said in one line and
    exit 2, as `run` does, never with a traceback."""
    import functools

    @functools.wraps(handler)
    def guarded(args: argparse.Namespace) -> int:
        from liminal_jupyter.runs.store import StoreError

        try:
            return handler(args)
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INVALID

    return guarded


# -- runs, show, logs --------------------------------------------------------------------
def _store_for(path: str):
    from liminal_jupyter.runs.location import NOTEBOOK_SUFFIXES, run_store_for

    target = Path(path)  # a notebook or pipeline file (its runs), or a folder (all of them)
    return run_store_for(target), (target if target.suffix.lower() in NOTEBOOK_SUFFIXES
                                   else None)


def _find_run(folder: str, run_id: str):
    """(store, run) for a run id or prefix; (store, None) after printing why not."""
    from liminal_jupyter.runs.store import RunNotFound

    store, _ = _store_for(folder)
    try:
        return store, store.get_run(run_id)
    except RunNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return store, None


def _runs(args: argparse.Namespace) -> int:
    store, notebook = _store_for(args.path)
    if not (store.root / "runs.db").exists():
        print(f"no runs recorded in {store.root.parent} yet: `liminal-nb run NOTEBOOK` "
              "starts one." if not args.json else "[]")
        return EXIT_OK
    runs = store.list_runs(notebook=notebook, limit=args.limit)
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=2))
        return EXIT_OK
    if not runs:
        print("no runs recorded for this notebook yet.")
        return EXIT_OK
    print(f"{'run':<22} {'status':<12} {'backend':<10} {'started':<20} {'took':>8}  notebook")
    for run in runs:
        took = _took(run.started, run.ended)
        print(f"{run.run_id:<22} {run.status:<12} {run.backend:<10} {_when(run.started):<20} "
              f"{took:>8}  {run.notebook}")
    return EXIT_OK


def _elements_after_their_step(records: list[Any]) -> list[Any]:
    """The elements of a fan-out step (`train.0`, recorded once it started) right after it."""
    from liminal_jupyter.step.foreach import split_element

    position = {r.step: i for i, r in enumerate(records)}

    def key(record: Any) -> tuple[int, int]:
        step, index = split_element(record.step)
        return (position.get(step, position[record.step]), -1 if index is None else index)

    return sorted(records, key=key)


def _show(args: argparse.Namespace) -> int:
    store, run = _find_run(args.dir, args.run)
    if run is None:
        return EXIT_INVALID
    if args.variable or args.export:
        from liminal_jupyter.runs.show_value import show_value

        return show_value(store, run.run_id, args.variable, args.step, args.export)
    steps = _elements_after_their_step(store.steps(run.run_id))
    from liminal_jupyter.runs.registered import read_registered_models
    from liminal_jupyter.step.html import page_beside

    models = read_registered_models(store.run_dir(run.run_id)) or []
    if args.json:
        print(json.dumps({"run": run.to_json(),
                          "steps": [{**s.to_json(), "html": page_beside(s.executed_notebook)}
                                    for s in steps],
                          "models": models}, indent=2, default=str))
        return EXIT_OK
    print(f"run {run.run_id}  {run.status}  ({run.backend}, {run.pipeline_name}, "
          f"{run.notebook})")
    print(f"started {_when(run.started)}, took {_took(run.started, run.ended)}"
          + (f"; {run.message}" if run.message else ""))
    if run.parameters:
        print("parameters set: " + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in
                                              run.parameters.items()))
    if run.tracking_run_id:
        print(f"MLflow run: {run.tracking_run_id}")
    for model in models:
        aliases = f" ({', '.join(model['aliases'])})" if model["aliases"] else ""
        print(f"model: {model['name']} version {model['version']}{aliases}, from "
              f"{model['variable']} of step {model['step']}")
    inputs = _inputs_by_step(store, run.run_id)
    for record in steps:
        cached = f" (from run {record.cached_from_run})" if record.cached_from_run else ""
        print(f"\n  {record.step:<16} {record.status:<10} {_took(record.started, record.ended):>8}"
              f"{cached}")
        if inputs.get(record.step):
            print(f"      inputs:  {', '.join(inputs[record.step])}")
        if record.outputs:
            outs = ", ".join(
                f"{n} (a list of {len(o)}, one per element)" if isinstance(o, list)
                else f"{n} ({o.get('marshaller')}, {_size(o.get('size'))})"
                for n, o in record.outputs.items())
            print(f"      outputs: {outs}")
        files = step_files(store, run.run_id, record.step)
        if files:
            print(f"      files:   {', '.join(files)} (in {store.step_dir(run.run_id, record.step)}"
                  "/files)")
        from liminal_jupyter.runs.values import not_kept

        for name, why in not_kept(record, store).items():
            print(f"      not kept: {name} ({why})")
        if record.metrics:
            print("      metrics: " + ", ".join(f"{k}={_number(v)}"
                                                for k, v in record.metrics.items()))
        if record.error:
            from liminal_jupyter.step.execute import render_error

            error = render_error(record.error, record.step)
            print("      error:   " + error.replace("\n", "\n      "))
        if record.executed_notebook:
            print(f"      notebook: {record.executed_notebook}")
            page = page_beside(record.executed_notebook)
            if page:
                print(f"      html:     {page}")
    return EXIT_OK


def _inputs_by_step(store, run_id: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in store.run_dir(run_id).glob("steps/*/inputs.json"):
        try:
            found[path.parent.name] = sorted(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return found


def _logs(args: argparse.Namespace) -> int:
    store, run = _find_run(args.dir, args.run)
    if run is None:
        return EXIT_INVALID
    records = store.steps(run.run_id)
    if args.step:
        records = [r for r in records if r.step == args.step]
        if not records:
            names = ", ".join(r.step for r in store.steps(run.run_id))
            print(f"error: run {run.run_id} has no step '{args.step}'; steps are {names}.",
                  file=sys.stderr)
            return EXIT_INVALID
    for record in records:
        if len(records) > 1:
            print(f"===== {record.step} ({record.status})")
        log = Path(record.log_path) if record.log_path else None
        if log and log.exists():
            sys.stdout.write(log.read_text(errors="replace"))
        else:
            print(f"(no log: the step {record.status})")
    return EXIT_OK


# -- formatting --------------------------------------------------------------------------
def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def _took(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    if end is None:
        return "..."
    return f"{end - start:.1f}s"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.0f} TB"


def step_files(store: Any, run_id: str, step: str) -> list[str]:
    """The files a step wrote in its working directory, as kept in the run's step folder
    (engines whose steps run away from the notebook's folder bring them back there)."""
    folder = store.step_dir(run_id, step) / "files"
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
