"""The step cache: a step whose code, parameters and inputs did not change is not run again.

As in Ploomber, a step's fingerprint covers what decides its result, and nothing else:
its own cells, the code every step runs first (prelude and parameters cells), the values
of the parameters it reads, the content hashes of the data it reads and of the workspace
files it names (`data/train.csv`, a helper module), its imports, what it
saves (outputs, metrics, models, environment), the kernel and our own version (which
generates the load and save cells). Content hashes rather than timestamps, so re-running
an upstream step that produces the same bytes keeps its downstream cached, and a file
touched but unchanged does not invalidate anything. Things the step does not read are
left out on purpose: changing another step, or a parameter this step never reads, keeps
its cache.

A hit is never trusted on the record's word: `CacheIndex.lookup` re-hashes each output
file and skips a record whose artifacts vanished or changed, so a half-written or edited
artifact is never reused. The known blind spot is the outside world: a step reading a file
the analysis did not find (a path built at run time, outside the notebook's folder) or a
URL that changed since is only re-run if its code or inputs changed too; add the file to
`liminal.files`, or tag the step `cache:off` (`is_cacheable` is then False and the runner
never looks it up).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from liminal_jupyter import __version__
from liminal_jupyter.pipeline import Pipeline, Step
from liminal_jupyter.runs.store import REUSABLE_STEP_STATUSES, RunStore, StepRecord


def is_cacheable(step: Step) -> bool:
    """Whether the runner may reuse an earlier result of this step (`cache:off` says no)."""
    return bool(step.options.cache)


def step_cache_key(
    pipeline: Pipeline,
    step_name: str,
    parameters: dict[str, Any],
    input_hashes: dict[str, str],
    kernel: str,
    file_hashes: dict[str, str] | None = None,
    element: str | None = None,
) -> str:
    """sha256 of a canonical JSON of everything that decides the step's result.

    parameters: the run's parameter values (defaults fill in those not given).
    input_hashes: data input name -> sha256 of its saved value; inputs of other steps may
    be included and are ignored. Raises ValueError when one of the step's is missing,
    since a key without it could match a run that read different data.
    file_hashes: workspace path -> content hash (step/workspace.py, computed once per
    run); the same rule holds for the step's workspace files (`step.files`).
    element: for one element of a foreach:NAME step, the element's fingerprint
    (step/foreach.py) stands for NAME, whose whole list is left out: a list grown by one
    element keeps the others' keys.
    """
    step = pipeline.step(step_name)
    fingerprint = {
        "liminal_jupyter": __version__,
        "kernel": kernel,
        "prelude": [cell.source for cell in pipeline.part(step).prelude],
        "parameters_cells": parameter_cell_sources(pipeline, step),
        "parameters": _parameters_read(pipeline, step, parameters),
        "inputs": _input_hashes(step, input_hashes),
        "files": _file_hashes(step, file_hashes or {}),
        "imports": list(dict.fromkeys(
            i.statement for i in step.inputs if i.kind == "import" and i.statement
        )),
        "cells": [cell.source for cell in step.cells],
        "outputs": sorted(step.outputs),
        "keep": sorted(step.keep),
        "metrics": [[m.name, m.expression] for m in step.metrics],
        "models": [[m.variable, m.registered_name] for m in step.models],
        "env": step.options.env,
    }
    if element is not None:
        fingerprint["parameters"].pop(step.foreach, None)
        fingerprint["inputs"].pop(step.foreach, None)
        fingerprint["foreach"] = [step.foreach, element]
    text = json.dumps(
        fingerprint, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_canonical
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def parameter_cell_sources(pipeline: Pipeline, step: Step) -> list[Any]:
    """The parameters cells as the step notebook runs them (from the IR; see render.py):
    those of the step's own notebook."""
    cells = pipeline.part(step).parameter_cells
    if cells:
        return [cell.source for cell in cells]
    return [[p.name, p.type, p.default] for p in pipeline.parameters]


def _parameters_read(pipeline: Pipeline, step: Step, given: dict[str, Any]) -> dict[str, Any]:
    defaults = {p.name: p.default for p in pipeline.parameters}
    values = {}
    for inp in step.inputs:
        if inp.kind != "parameter":
            continue
        if inp.name in given:
            values[inp.name] = given[inp.name]
        elif inp.name in defaults:
            values[inp.name] = defaults[inp.name]
        else:
            raise ValueError(
                f"step '{step.name}' reads parameter '{inp.name}', which has no value and no "
                "default"
            )
    return values


def _input_hashes(step: Step, given: dict[str, str]) -> dict[str, str]:
    missing = [i.name for i in step.data_inputs if i.name not in given]
    if missing:
        raise ValueError(
            f"step '{step.name}': no content hash for its data inputs {', '.join(missing)}; "
            "run the steps that produce them first"
        )
    return {i.name: given[i.name] for i in step.data_inputs}


def _file_hashes(step: Step, given: dict[str, str]) -> dict[str, str]:
    missing = [path for path in step.files if path not in given]
    if missing:
        raise ValueError(
            f"step '{step.name}': no content hash for its workspace files {', '.join(missing)}"
        )
    # Files earlier steps wrote that this one reads: hashed as they are when it runs.
    handed = {i.name: given[i.name] for i in step.inputs if i.kind == "file" and i.name in given}
    return {**{path: given[path] for path in step.files}, **handed}


def _canonical(value: Any) -> Any:
    """A stable stand-in for a value JSON cannot hold (parameters should be JSON anyway)."""
    kind = type(value)
    return {"__type__": f"{kind.__module__}.{kind.__qualname__}", "repr": repr(value)}


class CacheIndex:
    """Finds a reusable earlier result of a step by its cache key, across all runs."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def lookup(self, cache_key: str) -> StepRecord | None:
        """The newest succeeded (or cached) record with this key whose outputs are intact.

        A 'cached' record carries the outputs of the run that computed them
        (`record.origin_run`). Records whose artifacts vanished or changed are skipped, so
        an older intact one can still hit; None when there is none.
        """
        rejected: set[str] = set()
        for record in self.store.step_records_with_key(cache_key):
            if record.status not in REUSABLE_STEP_STATUSES:
                continue
            outputs = json.dumps(record.outputs, sort_keys=True)
            if outputs in rejected:  # cache hits of one original share its artifacts
                continue
            if not self.store.artifact_problems(record):
                return record
            rejected.add(outputs)
        return None
