"""The local engine: this machine's runner (parallel, cached, resumable, tracked)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from liminal_jupyter.engines.base import (
    Capabilities,
    EngineRefused,
    LedgerEngine,
    RunRequest,
    RunResult,
)

if TYPE_CHECKING:
    from liminal_jupyter.runs.progress import Reporter


class LocalEngine(LedgerEngine):
    name = "local"
    description = ("this machine's runner (the default): steps in warm kernels, in parallel, "
                   "cached and resumable, tracked in MLflow")
    capabilities = Capabilities(run=True, resume=True, cache=True, models=True, partial=True)

    def run(self, request: RunRequest, reporter: Reporter) -> RunResult:
        from liminal_jupyter.engines.local.partial import PartialRunRefused, Selection
        from liminal_jupyter.engines.local.runner import LocalRun, RunOptions
        from liminal_jupyter.engines.recorded import load_pipeline
        from liminal_jupyter.runs.store import StoreError

        pipeline = request.pipeline or load_pipeline(request.notebook)
        options = RunOptions(request.parameters, request.jobs, request.use_cache,
                             request.resume, request.tracking, request.tracking_uri,
                             request.experiment, run_id=request.run_id,
                             fresh_kernels=request.fresh_kernels, html=request.html,
                             selection=Selection(request.from_step, request.to_step,
                                                 list(request.only)))
        try:
            outcome = LocalRun(request.notebook, pipeline, options, reporter).execute()
        except (StoreError, PartialRunRefused) as exc:
            raise EngineRefused(str(exc)) from exc
        metrics = {k: v for record in outcome.steps.values()
                   for k, v in (record.metrics or {}).items()}
        warnings = [f"tracking: off ({outcome.tracking_warning})"] if outcome.tracking_warning \
            else []
        return RunResult(outcome.run_id, outcome.status, metrics, warnings=warnings)


ENGINE = LocalEngine()
