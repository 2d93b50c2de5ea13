"""Partial runs: `--to STEP`, `--from STEP`, `--only STEP[,STEP]`.

The debug loop re-runs part of a pipeline: a step and what feeds it (`--to`), a step and
what it feeds after its code changed (`--from`), or exactly some steps (`--only`). Steps
that are not re-run but feed one that is contribute the outputs of their latest successful
run (their files re-hashed first, as `--resume` does); if no earlier run has them, the run
is refused before anything starts, naming the step to include. Steps neither selected nor
needed are recorded as skipped, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from liminal_jupyter.pipeline import Pipeline
from liminal_jupyter.runs.progress import Reporter
from liminal_jupyter.runs.store import REUSABLE_STEP_STATUSES, RunStore, StepRecord, StoreError


class PartialRunRefused(ValueError):
    """The selection names an unknown step, or needs outputs no earlier run has."""


@dataclass
class Selection:
    """Which steps to run, as the user said it (each field optional, combined by `&`)."""

    from_step: str | None = None
    to_step: str | None = None
    only: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.from_step or self.to_step or self.only)

    def describe(self) -> str:
        parts = [f"--from {self.from_step}" if self.from_step else "",
                 f"--to {self.to_step}" if self.to_step else "",
                 f"--only {','.join(self.only)}" if self.only else ""]
        return " ".join(p for p in parts if p)


@dataclass
class PartialPlan:
    run: list[str]  # steps to run, in run order
    reused: dict[str, StepRecord]  # not run, their earlier outputs feed steps that run
    left_out: list[str]  # neither run nor needed


def selected_steps(pipeline: Pipeline, selection: Selection) -> list[str]:
    """The steps the selection names, in run order: --to S is S and its ancestors, --from S
    is S and its descendants, --only is exactly those; given together, what all include."""
    names = [s.name for s in pipeline.steps]
    for name in [selection.from_step, selection.to_step, *selection.only]:
        if name is not None and name not in names:
            raise PartialRunRefused(f"the pipeline has no step {name!r}; its steps are: "
                                    f"{', '.join(names)}")
    chosen = set(names)
    if selection.to_step:
        chosen &= _closure(pipeline, selection.to_step, upstream=True)
    if selection.from_step:
        chosen &= _closure(pipeline, selection.from_step, upstream=False)
    if selection.only:
        chosen &= set(selection.only)
    if not chosen:
        raise PartialRunRefused(f"{selection.describe()} selects no step: --from and --to "
                                "must be on one path")
    return [n for n in pipeline.order() if n in chosen]


def plan(pipeline: Pipeline, selection: Selection, store: RunStore, notebook: Path
         ) -> PartialPlan:
    """What a partial run runs, reuses and leaves out; PartialRunRefused when a step that
    runs reads from a step that does not, and no earlier run has that step's outputs."""
    run = selected_steps(pipeline, selection)
    needed = {u for name in run for u in pipeline.step(name).upstream} - set(run)
    reused: dict[str, StepRecord] = {}
    missing = []
    for name in [n for n in pipeline.order() if n in needed]:
        record = latest_success(store, notebook, name, pipeline)
        if record is None:
            missing.append(name)
        else:
            reused[name] = record
    if missing:
        readers = sorted({n for n in run if pipeline.step(n).upstream & set(missing)})
        raise PartialRunRefused(
            f"{selection.describe()}: step(s) {', '.join(missing)} would not run, but "
            f"{', '.join(readers)} read(s) from them and no earlier successful run of "
            f"{notebook.name} has their outputs. Run them too (e.g. --to {readers[0]}), or "
            "run the whole pipeline once.")
    left_out = [n for n in pipeline.order() if n not in run and n not in reused]
    return PartialPlan(run, reused, left_out)


def latest_success(store: RunStore, notebook: Path, step: str, pipeline: Pipeline
                   ) -> StepRecord | None:
    """The step's record in the latest run where it succeeded (or was a cache hit) with
    every output a step reads from it present and intact; None if no run has one."""
    if not store.db_path.exists():
        return None
    wanted = set(pipeline.step(step).outputs)
    for run in store.list_runs(notebook=notebook, limit=200):
        if run.status == "running":
            continue
        try:
            record = store.get_step(run.run_id, step)
        except StoreError:
            continue
        if (record.status in REUSABLE_STEP_STATUSES and wanted <= set(record.outputs)
                and not store.artifact_problems(record)):
            return record
    return None


def record_plan(store: RunStore, run_id: str, partial: PartialPlan, selection: Selection,
                reporter: Reporter) -> dict[str, StepRecord]:
    """Record in run `run_id` the steps the plan reuses (as cache hits of their run) and
    leaves out (skipped); returns their records, which the scheduler treats as done."""
    import time

    now = time.time()
    for name, earlier in partial.reused.items():
        store.update_step(run_id, name, status="cached", started=now, ended=now,
                          cache_key=earlier.cache_key, cached_from_run=earlier.origin_run,
                          outputs=earlier.outputs, metrics=earlier.metrics,
                          executed_notebook=earlier.executed_notebook,
                          log_path=earlier.log_path)
        reporter.step_state(name, "cached", 0.0, f"not re-run ({selection.describe()}): "
                            f"outputs of run {earlier.origin_run}")
    for name in partial.left_out:
        store.update_step(run_id, name, status="skipped")
        reporter.step_state(name, "skipped", None, f"not selected ({selection.describe()})")
    return {name: store.get_step(run_id, name) for name in [*partial.reused, *partial.left_out]}


def _closure(pipeline: Pipeline, start: str, *, upstream: bool) -> set[str]:
    """`start` with every step it depends on (upstream) or that depends on it."""
    parents = {s.name: set(s.upstream) for s in pipeline.steps}
    children: dict[str, set[str]] = {name: set() for name in parents}
    for name, ups in parents.items():
        for up in ups & set(parents):
            children[up].add(name)
    links = parents if upstream else children
    found, todo = {start}, [start]
    while todo:
        for near in links[todo.pop()] - found:
            found.add(near)
            todo.append(near)
    return found
