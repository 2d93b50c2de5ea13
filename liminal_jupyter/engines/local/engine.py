"""The local engine: this machine's runner (parallel, cached, resumable, tracked)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
                             fresh_kernels=request.fresh_kernels, kernel=request.kernel,
                             html=request.html,
                             selection=Selection(request.from_step, request.to_step,
                                                 list(request.only)))
        run = LocalRun(request.notebook, pipeline, options, reporter)
        try:
            outcome = run.execute()
        except (StoreError, PartialRunRefused) as exc:
            raise EngineRefused(str(exc) + _resume_hint(run, request.notebook)) from exc
        metrics = {k: v for record in outcome.steps.values()
                   for k, v in (record.metrics or {}).items()}
        warnings = [f"tracking: off ({outcome.tracking_warning})"] if outcome.tracking_warning \
            else []
        return RunResult(outcome.run_id, outcome.status, metrics, warnings=warnings)


def _resume_hint(run: Any, notebook: Any) -> str:
    """A run the store stopped recording midway (a full disk) is resumable once fixed."""
    if not getattr(run, "recorded", False):
        return ""
    return (f" Run {run.run_id} stopped there; once that is fixed, `liminal-nb run "
            f"{notebook} --resume {run.run_id}` goes on from the steps it finished.")


ENGINE = LocalEngine()
