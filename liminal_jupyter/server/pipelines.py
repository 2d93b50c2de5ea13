"""A notebook's pipeline for the panel: its IR and problems, its compiled file, a submission.

Parsing is static analysis (nothing of the notebook runs), and compiling imports only a
generated module in which every user value is a `repr()` literal, so both are safe in
the server process. Functions here block; the handlers call them in a thread.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liminal_jupyter.server.errors import ApiError

if TYPE_CHECKING:
    from liminal_jupyter.pipeline import Pipeline


def inspect_notebook(notebook: Path, path: str) -> dict[str, Any]:
    """GET /liminal/pipeline: {path, valid, pipeline, errors, warnings, pipeline_file}.

    A notebook that cannot be read at all has no pipeline (null), only its errors. A
    notebook that a pipeline file (liminal.yml) lists gives that file's whole pipeline,
    each step naming its notebook; `pipeline_file` is then the file's path (else null).
    """
    import posixpath

    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.notebook.parse import parse_notebook
    from liminal_jupyter.notebook.pipefile import pipeline_file_of

    owner = pipeline_file_of(notebook) if notebook.suffix == ".ipynb" else None
    pipeline_file = None
    if owner is not None:
        base = posixpath.dirname(path)
        for _ in range(owner[1].count("/")):
            base = posixpath.dirname(base)
        notebook, pipeline_file = owner[0], posixpath.join(base, owner[0].name)
    try:
        pipeline = parse_notebook(notebook, display_path=pipeline_file or path)
    except NotebookError as exc:
        errors = [d.to_json() for d in exc.diagnostics]
        return {"path": path, "valid": False, "pipeline": None, "errors": errors,
                "warnings": [], "pipeline_file": pipeline_file}
    ir = pipeline.to_json()
    return {"path": path, "valid": pipeline.valid, "pipeline": ir, "errors": ir["errors"],
            "warnings": ir["warnings"], "pipeline_file": pipeline_file}


def valid_pipeline(notebook: Path, path: str) -> Pipeline:
    """The notebook's pipeline, or a 400 carrying every error (as GET /pipeline has them)."""
    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.notebook.parse import parse_notebook

    try:
        pipeline = parse_notebook(notebook, display_path=path)
        problems = pipeline.errors
    except NotebookError as exc:
        pipeline, problems = None, exc.diagnostics
    if pipeline is not None and pipeline.valid:
        return pipeline
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    first = problems[0].render() if problems else f"{path}: the pipeline is not valid."
    raise ApiError(400, f"the pipeline has errors: {first}{more}",
                   errors=[d.to_json() for d in problems])


def check_parameters(notebook: Path, path: str, parameters: dict[str, Any]) -> None:
    """400 for parameter values the runner would refuse (unknown name, wrong type, out of
    range), in the runner's words (`params.resolve`), before a runner process is started
    for them: a bad request then costs no process. A notebook that cannot be parsed is
    left to the runner, which says why."""
    from liminal_jupyter import params
    from liminal_jupyter.diagnostics import NotebookError
    from liminal_jupyter.notebook.parse import parse_notebook

    if not parameters:
        return
    try:
        pipeline = parse_notebook(notebook, display_path=path)
    except NotebookError:
        return
    try:
        params.resolve(pipeline, parameters, file_label="parameter")
    except params.ParameterError as exc:
        raise ApiError(400, str(exc)) from None


def compile_for(notebook: Path, path: str, target: str, image: str | None) -> Any:
    """The notebook's pipeline compiled by engine `target`, as a download (CompiledFile)."""
    from liminal_jupyter.engines.base import EngineRefused
    from liminal_jupyter.engines.registry import get_engine

    pipeline = valid_pipeline(notebook, path)
    try:
        return get_engine(target).compile_file(pipeline, image)
    except EngineRefused as exc:
        raise ApiError(400, str(exc)) from None


def submit_with(engine_name: str, notebook: Path, path: str, parameters: dict[str, Any],
                settings: dict[str, Any]) -> dict[str, Any]:
    """Hand the notebook's run to engine `engine_name`'s host (Engine.submit), recorded in
    the run store; its reply (Submission.to_json, plus `experiment` for KFP's sake).

    Bad parameters, settings or notebook are 400; a host that cannot be reached, refuses
    the credentials or fails is 502 (the gateway's fault, not the request's). Secrets in
    `settings` reach the engine only (it keeps them in this process's memory for the host).
    """
    from liminal_jupyter import params
    from liminal_jupyter.engines.base import EngineRefused, SubmitFailed, SubmitRequest
    from liminal_jupyter.engines.registry import get_engine

    pipeline = valid_pipeline(notebook, path)
    try:
        values = params.resolve(pipeline, parameters)
    except params.ParameterError as exc:
        raise ApiError(400, str(exc).replace("--params-file ", "parameter ")) from None
    engine = get_engine(engine_name)
    try:
        done = engine.submit(SubmitRequest(notebook, pipeline, values, settings))  # type: ignore[attr-defined]
    except EngineRefused as exc:
        raise ApiError(400, str(exc)) from None
    except SubmitFailed as exc:
        raise ApiError(400 if exc.invalid else 502, str(exc)) from None
    reply = done.to_json()
    if reply["message"] is None:
        del reply["message"]
    return reply


def download_name(name: str) -> str:
    """A file name stem safe inside a Content-Disposition header."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip(".-") or "pipeline"
