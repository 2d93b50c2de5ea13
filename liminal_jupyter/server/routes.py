"""REST handlers of the JupyterLab panel, under `{base_url}liminal/` (docs/rest-api.md).

Every handler is an `APIHandler` with `@tornado.web.authenticated`, so Jupyter's token or
login cookie is required, and POST/DELETE from a browser also need the XSRF token (Jupyter
checks it for every cookie-authenticated request). Every notebook path is confined to the
server's root dir (`paths.py`).

Work that can take a while (parsing, SQLite reads, starting a runner, compiling,
talking to KFP) runs in a thread so the server keeps answering. No user code runs in this
process: parsing is static analysis, and runs execute in child processes
(`liminal_jupyter.runs.launch`), reaped by `children.ChildReaper`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.ioloop import IOLoop

from liminal_jupyter.server.bodies import Body
from liminal_jupyter.server.children import ChildReaper
from liminal_jupyter.server.errors import ApiError
from liminal_jupyter.server.paths import notebook_path, root_of

T = TypeVar("T")
REAPER_SETTING = "liminal_reaper"
DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT = 50, 1000

# kfp's compiler keeps the pipeline being built in process-wide state: one compile at a
# time (compile and submit both compile), queued on their own thread so that waiting
# compiles never hold the threads that parse notebooks and read runs.
_compile_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liminal-kfp")


class LiminalHandler(APIHandler):
    """Shared plumbing: the root dir, JSON replies, contract-shaped errors, threads."""

    @property
    def root(self) -> Path:
        return root_of(self.settings)

    def notebook(self, path: Any) -> Path:
        return notebook_path(self.root, path, self.allow_hidden)

    @property
    def allow_hidden(self) -> bool:
        return bool(getattr(self.settings.get("contents_manager"), "allow_hidden", False))

    def query_path(self) -> tuple[str, Path]:
        path = self.get_query_argument("path", None)
        return path, self.notebook(path)

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json_text(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(error, ApiError):
            self.set_header("Content-Type", "application/json")
            self.finish(json_text(error.body()))
        else:
            super().write_error(status_code, **kwargs)

    async def in_thread(self, func: Callable[..., T], *args: Any) -> T:
        return await IOLoop.current().run_in_executor(None, func, *args)

    async def in_compile_thread(self, func: Callable[..., T], *args: Any) -> T:
        return await IOLoop.current().run_in_executor(_compile_thread, func, *args)


class PipelineHandler(LiminalHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from liminal_jupyter.server.pipelines import inspect_notebook

        path, notebook = self.query_path()
        self.reply(await self.in_thread(inspect_notebook, notebook, path))


class RunsHandler(LiminalHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from liminal_jupyter.server.run_views import list_runs

        path, notebook = self.query_path()
        limit = self._limit()
        runs = await self.in_thread(list_runs, notebook, limit)
        self.reply({"runs": runs})

    @tornado.web.authenticated
    async def post(self) -> None:
        from liminal_jupyter.engines.registry import DEFAULT, names
        from liminal_jupyter.runs.launch import LaunchError, launch_run
        from liminal_jupyter.server.pipelines import check_parameters

        body = Body(self.request.body)
        path = body.get("path", "str")
        notebook = self.notebook(path)
        backend = body.get("backend", "str", DEFAULT)
        runnable = names(run=True)
        if backend not in runnable:
            raise ApiError(400, f"unknown backend {backend!r}; one of: {', '.join(runnable)}.")
        jobs = body.get("jobs", "int", None)
        if jobs is not None and jobs < 0:
            raise ApiError(400, "'jobs' must be 0 (one per core) or more.")
        options = {
            "parameters": body.get("parameters", "dict", {}),
            "backend": backend,
            "jobs": jobs or None,
            "use_cache": body.get("use_cache", "bool", True),
            "tracking": body.get("tracking", "bool", True),
            "tracking_uri": body.text("tracking_uri"),
            "experiment": body.text("experiment"),
        }
        steps = _step_selection(body.get("steps", "dict", {}))
        if steps:
            options["steps"] = steps
        await self.in_thread(check_parameters, notebook, path, options["parameters"])
        try:
            launched = await self.in_thread(lambda: launch_run(notebook, **options))
        except LaunchError as exc:
            raise ApiError(400, str(exc)) from None
        self.settings[REAPER_SETTING].watch(launched.process)
        record = await self.in_thread(launched.record)
        self.reply({"run_id": launched.run_id, "run": record.to_json()}, status=202)

    def _limit(self) -> int:
        text = self.get_query_argument("limit", None)
        if text is None:
            return DEFAULT_RUNS_LIMIT
        # ASCII digits only: str.isdigit() is also true of '²', which int() refuses.
        if not re.fullmatch(r"[0-9]{1,4}", text) or not 1 <= int(text) <= MAX_RUNS_LIMIT:
            raise ApiError(400, f"'limit' must be a whole number from 1 to {MAX_RUNS_LIMIT}.")
        return int(text)


class RunHandler(LiminalHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        from liminal_jupyter.server.run_views import run_detail

        path, notebook = self.query_path()
        tracking_uri = self.get_query_argument("tracking_uri", None)
        detail = await self.in_thread(run_detail, self.root, notebook, run_id, tracking_uri)
        self.reply(detail)

    @tornado.web.authenticated
    async def delete(self, run_id: str) -> None:
        from liminal_jupyter.server.run_views import cancel

        path, notebook = self.query_path()
        await self.in_thread(cancel, notebook, run_id)
        self.reply({"cancelled": True}, status=202)


class ExecutedNotebookHandler(LiminalHandler):
    """The executed notebook of one step, for the panel's viewer (server/executed.py)."""

    @tornado.web.authenticated
    async def get(self, run_id: str, step: str) -> None:
        from liminal_jupyter.server.executed import executed_notebook

        path, notebook = self.query_path()
        self.reply(await self.in_thread(executed_notebook, self.root, notebook, run_id, step))


class CompileHandler(LiminalHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        from liminal_jupyter.engines.registry import names
        from liminal_jupyter.server.pipelines import compile_for

        body = Body(self.request.body)
        path = body.get("path", "str")
        notebook = self.notebook(path)
        target = body.get("target", "str", "kfp")
        targets = names(compile=True)
        if target not in targets:
            raise ApiError(400, f"unknown target {target!r}; one of: {', '.join(targets)}.")
        image = body.text("image")
        done = await self.in_compile_thread(compile_for, notebook, path, target, image)
        self.set_header("Content-Disposition", f'attachment; filename="{done.name}"')
        self.finish(done.text, set_content_type=done.media_type)


class SubmitHandler(LiminalHandler):
    """POST /liminal/submit: a run handed to the host of any engine that submits (KFP, an
    Airflow deployment), with the host settings its `submit_options()` name."""

    @tornado.web.authenticated
    async def post(self) -> None:
        from liminal_jupyter.engines.registry import get_engine, names
        from liminal_jupyter.server.pipelines import submit_with

        body = Body(self.request.body)
        path = body.get("path", "str")
        notebook = self.notebook(path)
        engine = body.get("engine", "str", "kfp")
        submitting = names(submit=True)
        if engine not in submitting:
            raise ApiError(400, f"engine {engine!r} does not submit to a host; one of: "
                           f"{', '.join(submitting)}.")
        known = {o.name for o in get_engine(engine).submit_options()}  # type: ignore[attr-defined]
        settings = body.get("settings", "dict", {})
        for name in ("host", "experiment", "image", "token"):  # the body's own fields
            if name in known and body.text(name) is not None:
                settings.setdefault(name, body.text(name))
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ApiError(400, f"{engine} has no setting {', '.join(map(repr, unknown))}; "
                           f"it takes: {', '.join(sorted(known))}.")
        if not all(value is None or isinstance(value, str) for value in settings.values()):
            raise ApiError(400, "'settings' values must be strings.")
        parameters = body.get("parameters", "dict", {})
        done = await self.in_compile_thread(submit_with, engine, notebook, path, parameters,
                                            settings)
        self.reply(done, status=202)


class StatusHandler(LiminalHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        from liminal_jupyter import __version__
        from liminal_jupyter.engines.base import describe
        from liminal_jupyter.engines.registry import engines, names

        self.reply({"version": __version__, "root_dir": ".", "backends": names(run=True),
                    "compile_targets": names(compile=True), "submit": names(submit=True),
                    "engines": [describe(engine) for engine in engines().values()],
                    # Executed step notebooks live in the hidden .liminal/ folder: the
                    # contents API serves them only when hidden files are allowed.
                    "allow_hidden": self.allow_hidden})


class NotFoundHandler(LiminalHandler):
    """Any other path under /liminal/: a JSON 404 as the error contract says, rather than
    Jupyter's HTML page (which also fails on a path that is not UTF-8)."""

    @tornado.web.authenticated
    def get(self) -> None:
        from liminal_jupyter.server.paths import shown_path

        path = self.request.path
        hint = (" (without the trailing '/')" if path.endswith("/") and len(path) > 1
                else "")
        raise ApiError(404, f"no route {self.request.method} {shown_path(path, 120)!r}{hint}; "
                       "the routes under /liminal/ are listed in docs/rest-api.md (run ids "
                       "and step names are letters, digits, '_', '-' and '.').")

    post = put = patch = delete = head = get


def json_text(data: Any) -> str:
    """Strict JSON (what a browser's JSON.parse accepts): a NaN or infinite metric is null."""
    try:
        return json.dumps(data, allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_finite(data), allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def setup_route_handlers(web_app: Any) -> None:
    """Add the /liminal/ routes to Jupyter's tornado app (as the extension template does)."""
    base_url = web_app.settings["base_url"]
    web_app.settings.setdefault(REAPER_SETTING, ChildReaper())

    def route(*parts: str) -> str:
        return url_path_join(base_url, "liminal", *parts)

    from liminal_jupyter.server.run_report import RunReportHandler

    web_app.add_handlers(".*$", [
        (route("pipeline"), PipelineHandler),
        (route("runs"), RunsHandler),
        (route("runs", r"([A-Za-z0-9_][A-Za-z0-9_.-]*)"), RunHandler),
        (route("runs", r"([A-Za-z0-9_][A-Za-z0-9_.-]*)", "steps", r"([^/]+)", "notebook"),
         ExecutedNotebookHandler),
        (route("runs", r"([A-Za-z0-9_][A-Za-z0-9_.-]*)", "report"), RunReportHandler),
        (route("compile"), CompileHandler),
        (route("submit"), SubmitHandler),
        (route("status"), StatusHandler),
    ])


def setup_not_found_handler(web_app: Any) -> None:
    """The JSON 404 for every other path under /liminal/, added after all the extension's
    routes (tornado tries groups of handlers in the order they were added). A path ending
    in '/' too: Jupyter would redirect a GET of it and answer anything else with an HTML
    403 (no XSRF token), neither of which the panel can read."""
    base = url_path_join(web_app.settings["base_url"], "liminal")
    web_app.add_handlers(".*$", [(base + r"(?:/.*)?", NotFoundHandler)])


def _step_selection(raw: dict) -> dict:
    """A partial run's {"from", "to", "only"} as launch_run takes it: step names only
    (they become command-line arguments of the runner, never code). A pipeline file's
    step names may be qualified by their notebook (`features.clean`)."""
    name = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
    unknown = set(raw) - {"from", "to", "only"}
    if unknown:
        raise ApiError(400, f"'steps' takes from, to and only, not {', '.join(sorted(unknown))}.")
    only = raw.get("only") or []
    names = [raw.get("from"), raw.get("to"), *only] if isinstance(only, list) else None
    if names is None or not all(n is None or isinstance(n, str) and name.match(n)
                                for n in names):
        raise ApiError(400, "'steps' values must be step names (and 'only' a list of them).")
    return {k: v for k, v in {"from": raw.get("from"), "to": raw.get("to"),
                              "only": list(only)}.items() if v}
