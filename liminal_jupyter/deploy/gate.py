"""Whether a run's model may be promoted (get the deployment alias, `champion` by default).

A model is trained by every run, but only one that passed validation may replace what is
served: every step of phase `validate` must have succeeded, and every metric named in the
notebook's `liminal.thresholds` must be present and within its bound (their form is the
settings schema's, notebook/settings.py). Pure functions, so the rules are tested without
MLflow and read the same from the runner and the CLI; the runner hands the decision to the
tracker, which only sets the alias and the tags it says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from liminal_jupyter.notebook.settings import threshold_bounds, threshold_problems

DEFAULT_ALIAS = "champion"


@dataclass
class Decision:
    allowed: bool
    alias: str
    reasons: list[str] = field(default_factory=list)  # why not, one line each; or what passed

    def describe(self) -> str:
        verdict = f"alias '{self.alias}' " + ("set" if self.allowed else "not set")
        return verdict + (": " + "; ".join(self.reasons) if self.reasons else "")


def decide(
    settings: Mapping[str, Any],
    step_phases: Mapping[str, str | None],
    step_states: Mapping[str, str],
    metrics: Mapping[str, Any],
) -> Decision:
    """Decide from the run's step states and metrics (merged over its steps)."""
    alias = str(settings.get("alias") or DEFAULT_ALIAS)
    reasons: list[str] = []
    for step, phase in step_phases.items():
        state = step_states.get(step)
        if phase == "validate" and state not in ("succeeded", "cached"):
            reasons.append(f"validate step '{step}' {state or 'did not run'}")
    failed = [s for s, state in step_states.items() if state not in ("succeeded", "cached")]
    if failed and not reasons:
        reasons.append(f"the run did not succeed ({', '.join(failed)})")
    thresholds = settings.get("thresholds") or {}
    problems = threshold_problems(thresholds)
    if problems:
        return Decision(False, alias, reasons + problems)
    for name, bound in thresholds.items():
        low, high = threshold_bounds(bound)
        value = metrics.get(name)
        if not _is_number(value) or math.isnan(float(value)):
            reasons.append(f"metric {name} was not logged by this run (threshold {bound})")
        elif low is not None and float(value) < low:
            reasons.append(f"{name} = {_short(value)} is below its minimum {low}")
        elif high is not None and float(value) > high:
            reasons.append(f"{name} = {_short(value)} is above its maximum {high}")
    if reasons:
        return Decision(False, alias, reasons)
    passed = [f"{name} = {_short(metrics[name])}" for name in thresholds]
    return Decision(True, alias, [f"thresholds met ({', '.join(passed)})"] if passed else [])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    return f"{float(value):.4g}"
