"""Which model versions a run registered, kept in the run's folder as `models.json`.

The MLflow registry knows every version, but not which run of which notebook made it in
the run store's terms; the panel offers Deploy and Monitor on a run's models, so the
runner writes down what its tracker registered (name, version, the alias it set, the
tracking store) once tracking has finished. A run that registered nothing has no file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from liminal_jupyter.atomic import write_json

MODELS_FILE = "models.json"


def record_registered_models(run_dir: Path, tracker: Any,
                             warn: Callable[[str], None] | None = None) -> None:
    """Write what `tracker` (a RunTracker, after `finish`) registered; nothing if none.
    Never raises: the runner records the run's end right after. A failure is told to
    `warn` (the runner's reporter), else printed on stderr."""
    models = list(getattr(tracker, "registered_models", None) or [])
    if not models:
        return
    decision = getattr(tracker, "decision", None)
    alias = decision.alias if decision is not None and decision.allowed else None
    validation = None
    if decision is not None:
        validation = "passed" if decision.allowed else "; ".join(decision.reasons)
    records = [{**model, "aliases": [alias] if alias else [], "validation": validation}
               for model in models]
    try:
        write_json(run_dir / MODELS_FILE,
                   {"tracking_uri": getattr(tracker, "tracking_uri", None), "models": records})
    except OSError as exc:  # the run's own record matters more: say it, carry on
        text = f"the run's registered models were not recorded: {exc}"
        if warn is not None:
            warn(text)
        else:
            print(f"warning: {text}", file=sys.stderr)


def read_registered_models(run_dir: Path) -> list[dict[str, Any]] | None:
    """The run's registered models, each with its `tracking_uri`; None when not recorded."""
    try:
        data = json.loads((run_dir / MODELS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    uri = data.get("tracking_uri")
    return [{**model, "tracking_uri": uri} for model in data.get("models") or []]
