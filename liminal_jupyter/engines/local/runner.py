"""The local runner: a notebook pipeline on this machine, parallel, cached, resumable, tracked.

Each step runs in a kernel process, through the same step executor a KFP pod runs
(`liminal_jupyter.step.execute`), so a crash or a kill of one step's code never takes the
runner down. Kernels come warm from a pool (`kernels.py`): started with the prelude run
while earlier steps run, and recycled (namespace cleared) after a step that succeeded, which
is what makes a local run of a chain of steps cost little more than one straight papermill
run. Threads here only drive kernels.

What the run store says is the truth: a step's outputs are trusted only once the runner
has recorded the step as succeeded (after its manifest was written atomically), so a
runner killed at any moment leaves nothing half-done that a later run or the cache trusts;
its kernels notice their parent is gone and exit.
"""

from __future__ import annotations

import os
import posixpath
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.engines.local.cache import CacheIndex, is_cacheable, step_cache_key
from liminal_jupyter.engines.local.kernels import KernelPool, WarmKernel
from liminal_jupyter.pipeline import Pipeline, Step
from liminal_jupyter.runs.location import liminal_dir
from liminal_jupyter.runs.progress import Reporter
from liminal_jupyter.runs.registered import record_registered_models
from liminal_jupyter.runs.store import RunStore, StepRecord, process_start_time, write_json
from liminal_jupyter.step.execute import render_error
from liminal_jupyter.step.kernelspec import kernel_for
from liminal_jupyter.step.pages import PageRenderer
from liminal_jupyter.step.workdir import collect_files, snapshot_paths

if TYPE_CHECKING:
    from liminal_jupyter.tracking.process import TrackerProcess

RESULT = "result.json"
LOG = "log.txt"


@dataclass
class RunOptions:
    parameters: dict[str, Any] = field(default_factory=dict)  # set by the user, typed
    jobs: int = os.cpu_count() or 1
    use_cache: bool = True
    resume: str | None = None
    tracking: bool = True
    tracking_uri: str | None = None
    experiment: str | None = None
    # A run id reserved by the caller (`launch.launch_run`), so it can answer with the id
    # before the runner starts; None reserves a new one here.
    run_id: str | None = None
    # A new kernel process for every step (as in a KFP pod), instead of recycling the
    # kernel of a step that succeeded (namespace cleared, prelude re-run).
    fresh_kernels: bool = False
    # Where run records go; None: .liminal/ next to the notebook. Notebook CI keeps each
    # test run's records under its own output folder instead.
    store_dir: Path | None = None
    # executed.html beside each step's executed.ipynb, rendered in the background (pages.py).
    html: bool = True
    # --from / --to / --only (engines/local/partial.py); empty: the whole pipeline.
    selection: Any = None
    # --kernel: the kernel for every step instead of the notebook's (step/kernelspec.py).
    kernel: str | None = None


@dataclass
class RunOutcome:
    run_id: str
    status: str
    steps: dict[str, StepRecord]
    run_dir: Path
    tracking_warning: str | None = None


class LocalRun:
    def __init__(self, notebook: Path, pipeline: Pipeline, options: RunOptions,
                 reporter: Reporter):
        self.notebook = notebook.resolve()
        self.pipeline = pipeline
        self.options = options
        self.reporter = reporter
        self.store = RunStore(options.store_dir or liminal_dir(notebook))
        self.cache = CacheIndex(self.store)
        self.records: dict[str, StepRecord] = {}
        self.kernels: dict[str, WarmKernel] = {}
        # One pool of warm kernels per notebook (a pipeline file's steps each run their
        # own notebook's prelude, in its folder); "" is a one-notebook pipeline's.
        self.pools: dict[str, KernelPool] = {}
        self.pool_settings: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.cancelled = False
        self.pages = PageRenderer(reporter.warning, enabled=options.html)
        self.warnings: list[str] = []  # tolerated failures, as the reporter was told them
        self.recorded = False  # whether the store holds this run (so it can be resumed)
        self.kernel, self.kernel_note = (options.kernel, None) if options.kernel else \
            kernel_for(pipeline.kernel)

    # -- the run ------------------------------------------------------------------------
    def execute(self) -> RunOutcome:
        partial = self._partial_plan()  # refused before anything is recorded
        self.file_hashes = self._hash_workspace()
        reusable = self._open_run()
        order = self.pipeline.order()
        self.reporter.run_started(self.run_id, self.pipeline.name, order)
        if self.kernel_note:
            self._warn(self.kernel_note)
        tracker = self._start_tracking()
        for name, record in reusable.items():
            self.records[name] = record
            self.reporter.step_state(name, record.status, _duration(record), "reused")
        if partial is not None:
            from liminal_jupyter.engines.local.partial import record_plan

            self.records.update(record_plan(self.store, self.run_id, partial,
                                            self.options.selection, self.reporter))
        status = "failed"
        to_run = [n for n in order if n not in self.records]
        jobs = max(1, self.options.jobs)
        reuse = not self.options.fresh_kernels
        limit = min(jobs, _width(self.pipeline, to_run)) if reuse else jobs + 1
        self.pool_settings = {"limit": limit, "reuse": reuse, "to_run": to_run,
                              "first": 1 if reuse else jobs}
        if to_run:  # the first notebook's kernels warm while the run starts
            self._pool_for(self.pipeline.step(to_run[0]).notebook)
        try:
            self._schedule(order, tracker)
            failed = [r for r in self.records.values() if r.status == "failed"]
            status = "failed" if failed else "succeeded"
        except KeyboardInterrupt:
            self.cancelled = True
            self._kill_all()
            status = "cancelled"
            raise
        finally:
            self._close_pools()
            if status != "cancelled":
                self._promote(tracker)
            # MLflow first: a run the store calls finished has its tracking run, registered
            # models and aliases in place (the panel offers Deploy as soon as it ends).
            tracker.finish(status)
            record_registered_models(self.store.run_dir(self.run_id), tracker.tracker,
                                     self._warn)
            message = self._summary_message(status)  # with what tracking warned of
            self.store.finish_run(self.run_id, status, message)
            self.records = {r.step: r for r in self.store.steps(self.run_id)}
            self.reporter.run_finished(status, {"run_id": self.run_id, "message": message})
            if status != "cancelled":
                self.pages.close()
            else:
                self.pages.kill()
        return RunOutcome(self.run_id, status, self.records, self.store.run_dir(self.run_id),
                          tracker.disabled_reason)

    def _hash_workspace(self) -> dict[str, str]:
        """Content hashes of every step's workspace files, once per run (cache keys)."""
        from liminal_jupyter.step.workspace import hash_workspace_files

        paths = {path for step in self.pipeline.steps for path in step.files}
        return hash_workspace_files(self.notebook.parent, paths,
                                    self.pipeline.settings.get("exclude", []))

    def _partial_plan(self) -> Any:
        if not self.options.selection:
            return None
        from liminal_jupyter.engines.local.partial import plan

        return plan(self.pipeline, self.options.selection, self.store, self.notebook)

    def _open_run(self) -> dict[str, StepRecord]:
        now = time.time()
        if self.options.resume:
            run = self.store.get_run(self.options.resume)
            self.run_id = run.run_id
            self.user_parameters = dict(run.parameters)
            reusable, to_run = self.store.resume_plan(run.run_id, self.pipeline)
            self.store.update_run(run.run_id, status="running", ended=None, started=now,
                                  runner_pid=os.getpid(),
                                  runner_start_time=process_start_time(os.getpid()))
            for name in to_run:
                self.store.update_step(run.run_id, name, status="waiting", error=None)
        else:
            self.run_id = self.options.run_id or self.store.new_run_id()
            self.user_parameters = dict(self.options.parameters)
            self.store.create_run(self.run_id, self.notebook, self.pipeline.name, "local",
                                  self.user_parameters, self.pipeline.order(), started=now)
            reusable = {}
        self.recorded = True
        run_dir = self.store.run_dir(self.run_id)
        write_json(run_dir / "pipeline.json", self.pipeline.to_json())
        write_json(run_dir / "parameters.json", self.user_parameters)
        return reusable

    def _start_tracking(self) -> TrackerProcess:
        """Tracking starts with the first step that really runs, in a process of its own
        (tracking/process.py: its seconds of CPU run beside the step's kernel).

        A run where every step is a cache hit computed nothing new: it is recorded in the
        run store, and MLflow (whose import alone takes seconds) is not touched, so such a
        re-run takes well under a second.
        """
        from liminal_jupyter.tracking.process import TrackerConfig, TrackerProcess

        config = None
        if self.options.tracking:
            config = TrackerConfig(
                self.options.tracking_uri, self.pipeline, str(self.store.root), self.run_id,
                self._effective_parameters(), self.options.experiment,
                {"liminal.backend": "local"},
                warm_up=any(step.models for step in self.pipeline.steps))
        return TrackerProcess(
            config, self._warn, self.reporter.message,
            on_started=lambda run: self.store.update_run(self.run_id, tracking_run_id=run))

    def _effective_parameters(self) -> dict[str, Any]:
        values = {p.name: p.default for p in self.pipeline.parameters}
        values.update(self.user_parameters)
        return values

    # -- scheduling ---------------------------------------------------------------------
    def _schedule(self, order: list[str], tracker) -> None:
        pending = [n for n in order if n not in self.records]
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.options.jobs),
                                thread_name_prefix="liminal-step") as pool:
            try:
                self._dispatch(pool, pending, running, tracker)
            except KeyboardInterrupt:
                # Kill the kernels before leaving the `with`: its exit waits for the step
                # threads, which wait for their kernels.
                self._kill_all()
                raise

    def _dispatch(self, pool: ThreadPoolExecutor, pending: list[str],
                  running: dict[Future, str], tracker) -> None:
        while pending or running:
            for name in list(pending):
                state = self._readiness(self.pipeline.step(name))
                if state == "wait":
                    continue
                pending.remove(name)
                if state == "skip":
                    self._skip(name)
                elif not self._try_cache(name, tracker):
                    if len(running) >= max(1, self.options.jobs):
                        pending.insert(0, name)
                        break
                    tracker.start()
                    self.pages.start()
                    running[pool.submit(self._run_step, name, None, None, tracker)] = name
            if not running:
                if pending and all(self._readiness(self.pipeline.step(n)) == "wait"
                                   for n in pending):
                    raise RuntimeError(f"steps can never start: {pending}")
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                record = future.result()
                self.records[name] = record
                self.pages.submit(record.executed_notebook)
                self._report(name, record, tracker)

    def _readiness(self, step: Step) -> str:
        states = [self.records[u].status if u in self.records else None for u in step.upstream]
        if any(s in ("failed", "skipped", "interrupted") for s in states):
            return "skip"
        if all(s in ("succeeded", "cached") for s in states):
            return "ready"
        return "wait"

    def _skip(self, name: str) -> None:
        self.store.update_step(self.run_id, name, status="skipped")
        self.records[name] = self.store.get_step(self.run_id, name)
        self.reporter.step_state(name, "skipped", None, "an upstream step failed")

    def _inputs(self, step: Step) -> dict[str, dict[str, Any]]:
        return {i.name: self.records[i.producer].outputs[i.name] for i in step.data_inputs}

    def _cache_key(self, step: Step, inputs: dict[str, dict[str, Any]],
                   element: str | None = None) -> str:
        from liminal_jupyter.step.workspace import hash_workspace_files

        hashes = {name: _record_hash(saved) for name, saved in inputs.items()}
        # A file an earlier step wrote (a file edge) is hashed now, after that step ran.
        handed = hash_workspace_files(self.notebook.parent, [i.name for i in step.file_inputs])
        return step_cache_key(self.pipeline, step.name, self.user_parameters, hashes,
                              self.kernel, {**self.file_hashes, **handed},
                              element=element)

    def _try_cache(self, name: str, tracker) -> bool:
        step = self.pipeline.step(name)
        if not (self.options.use_cache and is_cacheable(step)) or self.options.selection:
            return False  # a partial run runs what it selects: that is why it was asked for
        if step.foreach:
            return False  # cached element by element (_run_element)
        hit = self.cache.lookup(self._cache_key(step, self._inputs(step)))
        if hit is None or not self._restore_handed_files(step, hit.origin_run):
            return False
        now = time.time()
        self.store.update_step(
            self.run_id, name, status="cached", started=now, ended=now,
            cache_key=hit.cache_key, cached_from_run=hit.origin_run, outputs=hit.outputs,
            metrics=hit.metrics, executed_notebook=hit.executed_notebook,
            log_path=hit.log_path,
        )
        record = self.store.get_step(self.run_id, name)
        self.records[name] = record
        self._report(name, record, tracker)
        return True

    # -- a fan-out step (foreach:NAME) ---------------------------------------------------
    def _run_foreach(self, step: Step, tracker) -> StepRecord:
        """Each element of NAME is a step execution of its own, with its own record
        (`STEP.I`, step/foreach.py), cache key and kernel, up to --jobs at once. The step's
        own record gathers their outputs as lists, in element order, and fails when an
        element fails, with that element's error (which names it)."""
        from liminal_jupyter.step.foreach import (
            check_elements,
            element_name,
            foreach_max,
        )

        started = time.time()
        self.store.update_step(self.run_id, step.name, status="running", started=started)
        self.reporter.step_state(step.name, "running")
        try:
            values = self._foreach_list(step)
            count = check_elements(step.name, step.foreach, values,
                                   foreach_max(step.options.foreach_max, self.pipeline.settings))
        except Exception as exc:  # not a list, over the cap, or its value cannot be loaded
            message = str(exc) if type(exc).__name__ == "ForeachError" else (
                f"step '{step.name}' could not read {step.foreach}, the list it runs over: "
                f"{type(exc).__name__}: {exc}")
            self.store.update_step(self.run_id, step.name, status="failed", ended=time.time(),
                                   error={"step": step.name, "message": message})
            return self.store.get_step(self.run_id, step.name)
        names = [element_name(step.name, i) for i in range(count)]
        self.store.add_steps(self.run_id, names)
        jobs = max(1, self.options.jobs)
        kernels = self._pool_for(step.notebook)
        if kernels is not None:
            kernels.expect(count - 1, min(jobs, count))
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="liminal-element") as pool:
            elements = list(pool.map(lambda i: self._run_element(step, i, values[i], tracker),
                                     range(count)))
        failed = [r for r in elements if r.status not in ("succeeded", "cached")]
        status = "succeeded"
        if failed:
            status = "interrupted" if self.cancelled else "failed"
        outputs = {} if failed else {
            name: [r.outputs[name] for r in elements] for name in step.outputs}
        shown = failed or elements  # the page the panel opens: a failed element's first
        self.store.update_step(
            self.run_id, step.name, status=status, ended=time.time(), outputs=outputs,
            error=failed[0].error if failed else None,
            executed_notebook=shown[0].executed_notebook if shown else None,
        )
        return self.store.get_step(self.run_id, step.name)

    def _foreach_list(self, step: Step) -> Any:
        """The value of NAME for this run: a parameter's, or what its producer saved."""
        from liminal_jupyter.step.foreach import load_input

        source = next(i for i in step.inputs if i.name == step.foreach)
        if source.kind == "parameter":
            return self._effective_parameters().get(step.foreach)
        return load_input(self.records[source.producer].outputs[step.foreach])

    def _run_element(self, step: Step, index: int, value: Any, tracker) -> StepRecord:
        """Element `index` of a fan-out step: a cache hit (keyed by the element's value,
        not its position), else a run of the step with NAME bound to it."""
        from liminal_jupyter.step.foreach import element_fingerprint, element_name

        name = element_name(step.name, index)
        fingerprint = element_fingerprint(value)
        key = None
        if fingerprint is not None:
            key = self._cache_key(step, self._inputs(step), fingerprint)
        hit = None
        if key and self.options.use_cache and is_cacheable(step) \
                and not self.options.selection and not self.cancelled:
            hit = self.cache.lookup(key)
        if hit is not None:
            now = time.time()
            self.store.update_step(
                self.run_id, name, status="cached", started=now, ended=now,
                cache_key=hit.cache_key, cached_from_run=hit.origin_run, outputs=hit.outputs,
                metrics=hit.metrics, executed_notebook=hit.executed_notebook,
                log_path=hit.log_path)
            record = self.store.get_step(self.run_id, name)
        else:
            record = self._run_step(step.name, index, key)
        self._report_element(step, record, tracker)
        return record

    def _report_element(self, step: Step, record: StepRecord, tracker) -> None:
        from dataclasses import replace

        detail = render_error(record.error, record.step) if record.error else None
        self.reporter.step_state(record.step, record.status, _duration(record), detail)
        ok = record.status in ("succeeded", "cached")
        tracker.submit("step_finished", replace(step, name=record.step, models=[]),
                       record.status, _duration(record) or 0.0, record.metrics if ok else {},
                       {}, {}, record.executed_notebook, record.status == "cached")

    # -- one step -----------------------------------------------------------------------
    def _run_step(self, name: str, element: int | None = None, key: str | None = None,
                  tracker: Any = None) -> StepRecord:
        """Run step `name` (or its element `element`: record `STEP.I`, cache key `key`)."""
        from liminal_jupyter.step.foreach import element_name

        step = self.pipeline.step(name)
        if step.foreach and element is None:
            return self._run_foreach(step, tracker)
        inputs = self._inputs(step)
        if element is None:
            key = self._cache_key(step, inputs)
        else:
            name = element_name(name, element)
        step_dir = self.store.step_dir(self.run_id, name)
        step_dir.mkdir(parents=True, exist_ok=True)
        for stale in (RESULT, "outputs.json"):
            (step_dir / stale).unlink(missing_ok=True)
        write_json(step_dir / "inputs.json", inputs)
        write_json(step_dir / "parameters.json", self.user_parameters)
        log = step_dir / LOG
        started = time.time()
        self.store.update_step(self.run_id, name, status="running", started=started,
                               cache_key=key, log_path=str(log))
        self.reporter.step_state(name, "running")
        result: dict[str, Any] = {}
        written = self._written_paths(step)
        baseline = snapshot_paths(self.notebook.parent, written)
        for attempt in range(step.options.retries + 1):
            if self.cancelled:
                break
            result = self._attempt(step, step_dir, log, attempt, element)
            if result.get("status") == "succeeded":
                break
        ended = time.time()
        status = "succeeded" if result.get("status") == "succeeded" else "failed"
        if status == "failed" and self.cancelled:
            status = "interrupted"  # stopped by the cancel, not by its own code
        if status == "succeeded" and written:
            _, warnings = collect_files(self.notebook.parent, baseline, step_dir,
                                        paths=written)
            for warning in warnings:
                self._warn(f"step '{name}': {warning}")
        self.store.update_step(
            self.run_id, name, status=status, ended=ended, attempt=attempt,
            outputs=result.get("outputs") or {}, metrics=result.get("metrics") or {},
            error=result.get("error"), executed_notebook=result.get("executed_notebook"),
        )
        return self.store.get_step(self.run_id, name)

    def _restore_handed_files(self, step: Step, origin_run: str) -> bool:
        """A cache hit skips the step, so the files it writes are not written: a later step
        reading one (a file edge) finds it beside the notebook, or here a copy from the run
        that computed the hit (its files/); False (run the step) when neither has it."""
        import shutil

        kept = self.store.step_dir(origin_run, step.name) / "files"
        for path in sorted({p.rstrip("/") for p in self._handed_paths(step)}):
            beside = self.notebook.parent / path
            if beside.exists():
                continue
            copy = kept / path
            if not copy.exists():
                return False
            beside.parent.mkdir(parents=True, exist_ok=True)
            if copy.is_dir():
                shutil.copytree(copy, beside)
            else:
                shutil.copyfile(copy, beside)
        return True

    def _written_paths(self, step: Step) -> list[str]:
        """What the step writes (the analysis's `writes`, file edges included): locally it
        stays beside the notebook, where the step wrote it; what the step created or
        changed there is copied to the run's step folder (files/), where every engine
        keeps the files a step wrote and `liminal-nb show` lists them."""
        return sorted(set(step.writes) | self._handed_paths(step))

    def _handed_paths(self, step: Step) -> set[str]:
        """The paths later steps read from what this step wrote (its file edges)."""
        return {i.name for s in self.pipeline.steps for i in s.file_inputs
                if i.producer == step.name}

    def _prelude(self, notebook: str) -> list[str] | None:
        """The prelude cells a warm kernel may run ahead: all, unless one reads a parameter
        (then it must run after the parameters cell, in the step notebook). `notebook`:
        whose prelude (Step.notebook)."""
        step = next(s for s in self.pipeline.steps if s.notebook == notebook)
        prelude = self.pipeline.part(step)
        if set(prelude.prelude_reads) & {p.name for p in self.pipeline.parameters}:
            return None
        return [cell.source for cell in prelude.prelude]

    def _pool_for(self, notebook: str) -> KernelPool | None:
        """The warm kernels of one notebook's steps, started the first time one is needed
        (so a pipeline file's later notebooks do not warm kernels at the run's start)."""
        with self.lock:
            if notebook in self.pools:
                return self.pools[notebook]
            if self.cancelled or not self.pool_settings:
                return None
            to_run = self.pool_settings["to_run"]
            needed = sum(1 for n in to_run if self.pipeline.step(n).notebook == notebook)
            folder = self.notebook.parent / (posixpath.dirname(notebook) or ".")
            pool = KernelPool(self.kernel, folder.resolve(), self._prelude(notebook),
                              needed=needed, limit=self.pool_settings["limit"],
                              reuse=self.pool_settings["reuse"],
                              env=self._step_environment(), on_warning=self._warn,
                              first=self.pool_settings["first"])
            self.pools[notebook] = pool
            return pool

    def _close_pools(self) -> None:
        with self.lock:
            pools = list(self.pools.values())
        for pool in pools:
            pool.close()

    def _attempt(self, step: Step, step_dir: Path, log: Path, attempt: int,
                 element: int | None = None) -> dict[str, Any]:
        """Run the step once, in a warm kernel of the pool (or a fresh one, cold)."""
        from liminal_jupyter.step.execute import execute_step
        from liminal_jupyter.step.foreach import element_name

        running = step.name if element is None else element_name(step.name, element)
        pool = self._pool_for(step.notebook)
        kernel = pool.acquire() if pool else None
        timed_out = threading.Event()
        timer = None
        with self.lock:  # a cancel between the step's start and here must not be missed
            if self.cancelled:
                if kernel is not None:
                    pool.release(kernel, reusable=False)
                return _failure(step.name, "the run was cancelled before this step started")
            if kernel is not None:
                self.kernels[running] = kernel
        if kernel is not None:
            if step.options.timeout:
                def expire() -> None:
                    timed_out.set()
                    kernel.kill()

                timer = threading.Timer(step.options.timeout, expire)
                timer.daemon = True
                timer.start()
        with open(log, "a", encoding="utf-8") as out:
            warm = "a warm kernel" if kernel is not None else "a new kernel"
            out.write(f"--- attempt {attempt + 1} of step {running}, in {warm}\n")
            out.flush()
            try:
                result = execute_step(
                    self.pipeline, step.name, self.user_parameters, self._inputs(step),
                    step_dir, cwd=self.notebook.parent,
                    kernel_manager=kernel.manager if kernel else None,
                    prelude_ran=kernel.prelude_ran if kernel else False, stdout_file=out,
                    kernel_name=self.kernel,
                    timeout=None if kernel else step.options.timeout,
                    environment=step.options.env or None, element=element,
                ).to_dict()
            except ValueError as exc:
                result = _failure(step.name, f"step '{step.name}' could not start: {exc}")
            finally:
                if timer is not None:
                    timer.cancel()
                if kernel is not None:
                    with self.lock:
                        self.kernels.pop(running, None)
                    kernel.close_clients()
                    # A kernel that took a step's env: tags keeps them: not for another.
                    healthy = (result.get("status") == "succeeded" and not timed_out.is_set()
                               and not self.cancelled and not step.options.env)
                    pool.release(kernel, reusable=healthy)
        if timed_out.is_set():
            result = _failure(step.name, f"step '{step.name}' timed out after "
                              f"{step.options.timeout} s (its timeout: tag) and was stopped.")
        write_json(step_dir / RESULT, result)
        return result

    def _report(self, name: str, record: StepRecord, tracker) -> None:
        detail = None
        if record.status == "failed" and record.error:
            detail = render_error(record.error, name)
        self.reporter.step_state(name, record.status, _duration(record), detail)
        step = self.pipeline.step(name)
        ok = record.status in ("succeeded", "cached")
        tracker.submit(
            "step_finished", step, record.status, _duration(record) or 0.0,
            record.metrics if ok else {}, record.outputs if ok else {},
            self._inputs(step) if ok else {}, record.executed_notebook,
            record.status == "cached",
        )

    def _step_environment(self) -> dict[str, str]:
        """What steps need to find this run's model registry and settings: an inference
        step's `load_model`, a monitor step's `check_drift` (deploy/)."""
        from liminal_jupyter.tracking.uri import resolve_tracking_uri

        env = {"MLFLOW_TRACKING_URI": resolve_tracking_uri(
            self.options.tracking_uri, self.pipeline.settings, self.store.root)}
        threshold = (self.pipeline.settings or {}).get("drift_threshold")
        if threshold is not None:
            env["LIMINAL_DRIFT_THRESHOLD"] = str(threshold)
        return env

    def _promote(self, tracker: TrackerProcess) -> None:
        """Ask the promotion gate (deploy/gate.py) whether the run passed validation, and
        hand its decision to the tracker, which sets the alias and tags it says."""
        from liminal_jupyter.deploy.gate import decide

        records = self.store.steps(self.run_id)
        states = {r.step: r.status for r in records}
        metrics = {k: v for r in records for k, v in (r.metrics or {}).items()}
        phases = {step.name: step.phase for step in self.pipeline.steps}
        decision = decide(self.pipeline.settings or {}, phases, states, metrics)
        tracker.submit("promote", decision, self.reporter.message)

    def _kill_all(self) -> None:
        with self.lock:
            self.cancelled = True
            kernels = list(self.kernels.values())
        for kernel in kernels:
            kernel.kill()
        self._close_pools()

    def _summary_message(self, status: str) -> str:
        counts: dict[str, int] = {}
        for record in self.store.steps(self.run_id):
            counts[record.status] = counts.get(record.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return "; ".join(filter(None, [summary, self._warnings_note()]))

    def _warn(self, text: str) -> None:
        """A tolerated failure (tracking, a warm kernel): a `warning` event for whoever
        watches the run, and a note in the run's record for the panel and `show`."""
        with self.lock:
            self.warnings.append(text)
        self.reporter.warning(text)
        if self.store.get_run(self.run_id).status == "running":
            self.store.update_run(self.run_id, message=self._warnings_note())

    def _warnings_note(self) -> str:
        with self.lock:
            said = list(self.warnings)
        if not said:
            return ""
        more = f" (and {len(said) - 3} more)" if len(said) > 3 else ""
        return f"warning{'s' if len(said) > 1 else ''}: " + "; ".join(said[:3]) + more


def _failure(step: str, message: str) -> dict[str, Any]:
    return {"status": "failed", "error": {"step": step, "message": message}}


def _record_hash(saved: Any) -> str:
    """The content hash of an input: a saved value's sha256, or for the outputs of a
    fan-out step (a list of them, in element order) one hash over theirs."""
    if isinstance(saved, list):
        import hashlib

        return hashlib.sha256(",".join(r["sha256"] for r in saved).encode()).hexdigest()
    return saved["sha256"]


def _duration(record: StepRecord) -> float | None:
    if record.started is None or record.ended is None:
        return None
    return record.ended - record.started


def _width(pipeline: Pipeline, steps: list[str]) -> int:
    """How many of `steps` can run at once, at most: the most of them at one depth of the
    DAG (an estimate; the pool starts another kernel whenever a step would wait)."""
    depth: dict[str, int] = {}
    for name in pipeline.order():
        depth[name] = 1 + max((depth[u] for u in pipeline.step(name).upstream), default=-1)
    per_depth = Counter(depth[name] for name in steps)
    return max(per_depth.values(), default=1)
