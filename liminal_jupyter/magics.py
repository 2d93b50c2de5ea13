"""`%load_ext liminal_jupyter`, then `%liminal inputs STEP [--run RUN] [--notebook PATH]`.

Loads the inputs a step read in a run into this kernel (api/inputs.py), so a failing step
can be debugged where the notebook is edited. Which notebook, when not given: the one this
kernel belongs to when that can be known, else the only notebook with runs in the kernel's
folder, else a clear error asking for --notebook. Which run: the latest that reached the step.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

USAGE = "%liminal inputs STEP [--run RUN] [--notebook PATH]"


class MagicError(Exception):
    """Shown to the user as one line, without a traceback of ours."""


def load_ipython_extension(ipython: Any) -> None:
    """Register `%liminal` (IPython calls this for `%load_ext liminal_jupyter`)."""
    ipython.register_magic_function(
        lambda line: liminal_magic(line, ipython.user_ns), magic_kind="line",
        magic_name="liminal")


def liminal_magic(line: str, namespace: dict[str, Any]) -> Any:
    """Run one `%liminal` command; errors are printed, not raised (a magic's convention)."""
    from liminal_jupyter.api.inputs import InputsUnavailable, load_inputs

    try:
        args = _parse(line)
        notebook = _notebook(args.notebook)
        load_inputs(notebook, args.step, run=args.run, into=namespace)
    except (MagicError, InputsUnavailable) as exc:
        print(f"error: {exc}")
    return None


def _parse(line: str) -> argparse.Namespace:
    parser = _Parser(prog="%liminal", add_help=False)
    parser.add_argument("command", choices=["inputs"])
    parser.add_argument("step")
    parser.add_argument("--run")
    parser.add_argument("--notebook")
    try:
        return parser.parse_args(shlex.split(line))
    except ValueError as exc:
        raise MagicError(f"{exc}; usage: {USAGE}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel's process
        raise ValueError(message)


def _notebook(given: str | None) -> Path:
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise MagicError(f"--notebook {given}: no such notebook")
        return path.resolve()
    from liminal_jupyter.api.jupyter import NotebookUnknown, current_notebook

    try:
        return current_notebook()
    except NotebookUnknown:
        pass
    candidates = _notebooks_with_runs(Path.cwd())
    if len(candidates) == 1:
        return candidates[0]
    found = f" ({', '.join(p.name for p in candidates)} have runs)" if candidates else ""
    raise MagicError("cannot tell which notebook's runs to read from this kernel"
                     f"{found}: pass --notebook PATH")


def _notebooks_with_runs(folder: Path) -> list[Path]:
    from liminal_jupyter.runs.location import run_store_for

    store = run_store_for(folder)
    if not store.db_path.exists():
        return []
    labels = dict.fromkeys(r.notebook for r in store.list_runs(limit=500))
    paths = [(folder / label).resolve() if not Path(label).is_absolute() else Path(label)
             for label in labels]
    return [p for p in paths if p.is_file()]
