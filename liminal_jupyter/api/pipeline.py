"""`Pipeline`: a notebook's pipeline from Python, for people who never leave the notebook.

A thin front over what the CLI uses: the parser (`notebook.parse`), parameter typing
(`params`), the local runner started in a child process (`local.launch`), the run store
and the KFP compiler. Runs never execute in the caller's process, so a notebook that
starts a run keeps its kernel responsive and its variables untouched; the run reads the
notebook as saved on disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.api.run import Run

if TYPE_CHECKING:
    from liminal_jupyter.diagnostics import Diagnostic
    from liminal_jupyter.pipeline import Parameter, Step
    from liminal_jupyter.pipeline import Pipeline as PipelineIR
    from liminal_jupyter.runs.store import RunRecord

TARGETS = ("kfp",)


class PipelineInvalid(ValueError):
    """The notebook's pipeline has errors, so it cannot run or compile; the message lists
    each with its cell and line (as `liminal-nb inspect` does)."""


class Pipeline:
    """The pipeline a tagged notebook defines.

    >>> p = Pipeline.from_notebook("example_notebooks/iris_classification.ipynb")
    >>> list(p.steps)
    ['fetch', 'prepare', 'train', 'evaluate', 'validate']
    >>> run = p.run(n_estimators=50)         # blocks in a script; live view in a notebook
    >>> run.status, run.metrics["accuracy"]
    """

    def __init__(self, ir: PipelineIR, notebook: str | os.PathLike[str]) -> None:
        self.ir = ir
        """The parsed pipeline (liminal_jupyter.pipeline.Pipeline), as `inspect --json`."""
        self.notebook = Path(notebook).resolve()
        """The notebook file, absolute."""

    # -- reading ----------------------------------------------------------------------------
    @classmethod
    def from_notebook(cls, path: str | os.PathLike[str] | None = None) -> Pipeline:
        """Read a notebook's pipeline. With no path, the notebook this kernel belongs to
        (found inside JupyterLab, Jupyter Notebook and VS Code; elsewhere pass the path).

        Raises liminal_jupyter.diagnostics.NotebookError when the file cannot be read as a
        notebook. A notebook with tag or code errors still gives a Pipeline: see `valid`.
        """
        from liminal_jupyter.api.jupyter import current_notebook
        from liminal_jupyter.notebook.parse import parse_notebook

        notebook = Path(path) if path is not None else current_notebook()
        return cls(parse_notebook(notebook), notebook)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Pipeline:
        """Read the pipeline of a notebook or of a pipeline file (liminal.yml: several
        notebooks as one pipeline; docs/pipelines.md). Raises NotebookError as
        `from_notebook` does, naming the file's line or the notebook."""
        from liminal_jupyter.notebook.parse import parse_notebook

        return cls(parse_notebook(path), path)

    def reload(self) -> Pipeline:
        """Read the notebook again (after saving changes to it); returns self."""
        from liminal_jupyter.notebook.parse import parse_notebook

        self.ir = parse_notebook(self.notebook)
        return self

    @property
    def name(self) -> str:
        """The pipeline's name (notebook metadata liminal.name, else from the file name)."""
        return self.ir.name

    @property
    def description(self) -> str:
        """The pipeline's description (notebook metadata liminal.description), or ''."""
        return self.ir.description

    @property
    def steps(self) -> dict[str, Step]:
        """The steps, in notebook order as `liminal-nb inspect` lists them: name -> Step
        (cells, inputs, outputs, kept values, options, phase). Run order is `ir.order()`."""
        return {step.name: step for step in self.ir.steps}

    @property
    def parameters(self) -> dict[str, Parameter]:
        """The parameters: name -> Parameter (type, default, help, choices, minimum,
        maximum), in the order of the parameters cell."""
        return {p.name: p for p in self.ir.parameters}

    @property
    def valid(self) -> bool:
        """True when the pipeline has no errors and can run."""
        return self.ir.valid

    @property
    def errors(self) -> list[Diagnostic]:
        """What stops the pipeline from running, each with its cell and line."""
        return self.ir.errors

    @property
    def warnings(self) -> list[Diagnostic]:
        """Problems that do not stop a run (an unknown tag, a star import, ...)."""
        return self.ir.warnings

    def check_parameters(self, values: Mapping[str, Any], *, textual: bool = False
                         ) -> dict[str, Any]:
        """The values typed and checked exactly as `liminal-nb run -p` checks them.

        Raises liminal_jupyter.params.ParameterError (a ValueError) naming the parameter
        and what is wrong: unknown name, wrong type, not a choice, out of range.
        textual: the values are text to convert by each parameter's type, as `-p` values.
        """
        from liminal_jupyter import params

        return params.check(self.ir, dict(values), textual=textual)

    # -- running ----------------------------------------------------------------------------
    def run(
        self,
        values: Mapping[str, Any] | None = None,
        /,
        *,
        wait: bool | None = None,
        show: bool | None = None,
        jobs: int | None = None,
        cache: bool = True,
        tracking: bool = True,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        engine: str = "local",
        from_step: str | None = None,
        to_step: str | None = None,
        only: list[str] | str | None = None,
        **parameters: Any,
    ) -> Run:
        """Run the pipeline on this machine, in a child process; returns its Run handle.

        Parameters are keyword arguments (`run(n_estimators=50)`), or a dict as the first
        argument for names that clash with the options below. They are checked against the
        declared types before anything starts (ParameterError). The notebook is read as
        saved on disk.

        wait: block until the run ends. Default: yes in a script, no in a notebook.
        show: display the live run view. Default: yes in a notebook.
        jobs, cache, tracking, tracking_uri, experiment: as `liminal-nb run`'s --jobs,
            --no-cache, --no-tracking, --tracking-uri and --experiment.
        engine: where it runs, as `liminal-nb run --backend`: any engine of the registry
            that runs (`liminal_jupyter.engines.registry.names(run=True)`).
        from_step, to_step, only: a partial run, as `--from`, `--to`, `--only`: the steps
            not run that feed one that runs reuse their latest successful run's outputs
            (local engine; refused with RuntimeError when no earlier run has them).
        """
        from liminal_jupyter.api.jupyter import in_notebook
        from liminal_jupyter.engines.registry import names
        from liminal_jupyter.runs.launch import LaunchError, launch_run
        from liminal_jupyter.runs.nesting import inside_run_of

        runnable = names(run=True)
        if engine not in runnable:
            raise ValueError(f"unknown engine {engine!r}; one of: {', '.join(runnable)}")
        self.reload()
        self._require_valid("run")
        if inside_run_of(self.notebook):
            raise RuntimeError(
                f"{self.notebook.name} is already running this code as a pipeline step; "
                "starting a run of it here would start itself again without end. Tag the "
                "cell that calls .run() 'skip' so it stays out of the pipeline."
            )
        typed = self.check_parameters({**(values or {}), **parameters})
        steps = {"from": from_step, "to": to_step,
                 "only": [only] if isinstance(only, str) else list(only or [])}
        self._check_selection(steps, engine)
        notebook_mode = in_notebook()
        try:
            launched = launch_run(self.notebook, typed, backend=engine, jobs=jobs,
                                  use_cache=cache, tracking=tracking,
                                  tracking_uri=tracking_uri, experiment=experiment,
                                  steps=steps)
        except LaunchError as exc:
            raise RuntimeError(f"the run of {self.notebook.name} could not start: {exc}"
                               ) from None
        run = Run(launched.run_id, self.notebook, store=launched.store,
                  process=launched.process)
        if show if show is not None else notebook_mode:
            run.show()
        if wait if wait is not None else not notebook_mode:
            run.wait()
        return run

    def submit(
        self,
        values: Mapping[str, Any] | None = None,
        /,
        *,
        engine: str = "kfp",
        host: str | None = None,
        settings: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        **parameters: Any,
    ) -> Run:
        """Hand a run to a host (KFP, an Airflow 3 deployment) and return its Run handle,
        as `liminal-nb submit --engine ENGINE` does; nothing runs on this machine.

        engine: any engine that submits (`registry.names(submit=True)`). host: the host's
        URL. settings: the engine's other host settings by name (`Engine.submit_options()`:
        kfp experiment, image, token; airflow dags_folder, artifacts, artifacts_connection,
        username, password,
        token); secrets are never recorded, only kept in this process's memory for the
        host, so `run.status`/`run.wait()` can ask it. Parameters as for `run()`.
        Raises ValueError for an unknown engine or setting, and RuntimeError (one line)
        when the host refuses the run or cannot be reached.
        """
        from liminal_jupyter.engines.base import EngineRefused, SubmitFailed, SubmitRequest
        from liminal_jupyter.engines.registry import get_engine, names

        if engine not in names(submit=True):
            raise ValueError(f"engine {engine!r} does not submit to a host; one of: "
                             f"{', '.join(names(submit=True))}")
        chosen = get_engine(engine)
        known = {o.name for o in chosen.submit_options()}  # type: ignore[attr-defined]
        given = {**(settings or {}), **({"host": host} if host is not None else {})}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"{engine} has no setting {', '.join(unknown)}; it takes: "
                             f"{', '.join(sorted(known))}")
        self.reload()
        self._require_valid("submit")
        typed = self.check_parameters({**(values or {}), **parameters})
        try:
            done = chosen.submit(SubmitRequest(self.notebook, self.ir, typed, given,  # type: ignore[attr-defined]
                                               run_name=run_name))
        except (SubmitFailed, EngineRefused) as exc:
            raise RuntimeError(f"{self.notebook.name} was not submitted to {engine}: {exc}"
                               ) from None
        if not done.run_id:
            raise RuntimeError(f"{done.summary} was submitted but not recorded here: "
                               f"{done.store_warning}")
        return Run(done.run_id, self.notebook)

    def form(self, **run_options: Any) -> Any:
        """An ipywidgets form of the parameters with a Run button (a ParameterForm).

        run_options: options of `run()` for every run the form starts (e.g. tracking=False).
        """
        from liminal_jupyter.widgets.form import ParameterForm

        return ParameterForm(self, run_options=run_options)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """This notebook's recorded runs, newest first (as `liminal-nb runs NOTEBOOK`)."""
        from liminal_jupyter.runs.launch import run_store_for

        store = run_store_for(self.notebook)
        if not store.db_path.exists():
            return []
        return store.list_runs(notebook=self.notebook, limit=limit)

    def get_run(self, run_id: str) -> Run:
        """A handle on a recorded run of this notebook (a unique prefix of its id is enough)."""
        return Run(run_id, self.notebook)

    def load_inputs(self, step: str, run: str | None = None,
                    into: dict[str, Any] | None = None) -> dict[str, Any]:
        """Load the inputs `step` read in a run into `into` (e.g. `globals()`), to debug it
        in this kernel; returns them, name -> value (data and parameters).

        run: a run id or prefix; default the latest run that reached the step. The values
        are that run's artifacts, loaded only through the marshallers (hash-checked); one
        saved with cloudpickle is announced first, since unpickling runs code.
        Raises liminal_jupyter.api.inputs.InputsUnavailable (a LookupError) saying why not.
        """
        from liminal_jupyter.api.inputs import load_inputs

        loaded = load_inputs(self.notebook, step, run=run, into=into)
        return {**loaded.values, **loaded.parameters}

    # -- compiling --------------------------------------------------------------------------
    def compile(
        self, path: str | os.PathLike[str] | None = None, target: str = "kfp", *,
        image: str | None = None,
    ) -> Path:
        """Compile the pipeline for another orchestrator and return the file written.

        target 'kfp': Kubeflow Pipelines v2 YAML, as `liminal-nb compile` (default path:
        NOTEBOOK_STEM.pipeline.yaml next to the notebook). image: the steps' container
        image. Raises liminal_jupyter.engines.kfp.compile.CompileError when kfp refuses it.
        """
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; one of: {', '.join(TARGETS)}")
        from liminal_jupyter.engines.kfp.compile import compile_pipeline

        self.reload()
        self._require_valid("compile")
        stem = self.notebook.name.removesuffix(".ipynb")
        yaml_path = Path(path) if path is not None else self.notebook.with_name(
            f"{stem}.pipeline.yaml")
        return compile_pipeline(self.ir, yaml_path, image=image).yaml_path

    # -- showing ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "valid" if self.valid else f"{len(self.errors)} error(s)"
        return (f"<Pipeline {self.name!r} ({self.notebook.name}): {len(self.ir.steps)} steps, "
                f"{len(self.ir.parameters)} parameters, {state}>")

    def __str__(self) -> str:
        from liminal_jupyter.describe import describe

        return describe(self.ir)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython shows what `liminal-nb inspect` prints."""
        printer.text(repr(self) if cycle else str(self))

    def _check_selection(self, steps: dict[str, Any], engine: str) -> None:
        """Refuse a partial run here, in the caller, rather than in the runner's log."""
        if not any(steps.values()):
            return
        from liminal_jupyter.engines.local.partial import (
            PartialRunRefused,
            Selection,
            plan,
        )
        from liminal_jupyter.engines.registry import get_engine
        from liminal_jupyter.runs.launch import run_store_for

        if not get_engine(engine).capabilities.partial:
            raise ValueError(f"a {engine} run runs the whole pipeline; from_step, to_step "
                             "and only are for local runs")
        try:
            plan(self.ir, Selection(steps["from"], steps["to"], steps["only"]),
                 run_store_for(self.notebook), self.notebook)
        except PartialRunRefused as exc:
            raise RuntimeError(str(exc)) from None

    def _require_valid(self, what: str) -> None:
        if not self.valid:
            problems = "\n".join(d.render() for d in self.errors)
            raise PipelineInvalid(f"{self.notebook.name} cannot {what}: its pipeline has "
                                  f"errors.\n{problems}")
