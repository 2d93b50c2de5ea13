"""REST handlers of the Deploy phase for the panel: serve a registered model, list and stop
what is served, check data for drift and show its report (docs/rest-api.md).

Nothing is served or computed in the Jupyter server process: a model is served by MLflow's
scoring server in a child process group (`serving.py`), and finding a model or checking
drift runs in a short-lived child (`model_jobs.py`). The handlers wait for them on a pool
of their own, so a deploy that takes a minute never holds the threads that parse
notebooks and read runs. Every served model is stopped when the Jupyter server shuts down.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.utils import url_path_join
from tornado.escape import url_escape
from tornado.ioloop import IOLoop

from liminal_jupyter.notebook.settings import metadata_settings
from liminal_jupyter.server.bodies import Body
from liminal_jupyter.server.errors import ApiError
from liminal_jupyter.server.model_jobs import JobError, run_job
from liminal_jupyter.server.model_views import (
    DATA_SUFFIXES,
    confined_file,
    registry_uri,
    report_file,
    report_path_for,
)
from liminal_jupyter.server.paths import shown_path
from liminal_jupyter.server.routes import LiminalHandler
from liminal_jupyter.server.serving import PortTaken, ServedModels, stop_orphans

SERVED_SETTING = "liminal_served_models"
# A drift report is our own HTML, but it names the user's features and values: it may
# show, never run anything, nor reach the Jupyter origin (a sandbox has an opaque origin).
REPORT_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'self'")

_model_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="liminal-models")


class ModelHandler(LiminalHandler):
    @property
    def served(self) -> ServedModels:
        return self.settings[SERVED_SETTING]

    async def in_model_thread(self, func: Any, *args: Any) -> Any:
        return await IOLoop.current().run_in_executor(_model_threads, func, *args)

    def model_request(self, body: Body) -> dict[str, Any]:
        """The model fields every route shares: name, version or alias, tracking store."""
        name = body.get("name", "str").strip()
        if not name:
            raise ApiError(400, "'name' must be a registered model's name.")
        version = body.data.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)
        elif version is not None and not isinstance(version, str):
            raise ApiError(400, "'version' must be a version number, e.g. \"3\".")
        version = (version or "").strip() or None
        alias = body.text("alias")
        if version and alias:
            raise ApiError(400, "give 'version' or 'alias', not both.")
        path = body.text("path")
        notebook = self.notebook(path) if path else None
        return {"name": name, "version": version, "alias": alias, "notebook": notebook,
                "tracking_uri": registry_uri(body.text("tracking_uri"), notebook)}


class ServeHandler(ModelHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        body = Body(self.request.body)
        model = self.model_request(body)
        port = body.get("port", "int", None)
        if port is not None and not 1024 <= port <= 65535:
            raise ApiError(400, "'port' must be from 1024 to 65535, or null for a free one.")
        try:
            port = self.served.claim_port(port)
        except PortTaken as exc:
            raise ApiError(409, str(exc)) from None
        try:
            found = await self.in_model_thread(_resolve, model)
        except BaseException:
            self.served.release_port(port)
            raise
        entry = await self.in_model_thread(_start, self.served, found, model, port)
        self.reply(entry.to_json(), status=201)


class ServedHandler(ModelHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply({"served": await self.in_model_thread(self.served.list)})


class ServedOneHandler(ModelHandler):
    @tornado.web.authenticated
    async def delete(self, entry_id: str) -> None:
        entry = await self.in_model_thread(self.served.stop, entry_id)
        if entry is None:
            raise ApiError(404, f"no served model {shown_path(entry_id)!r} (GET "
                           "/liminal/models/served lists what this server serves).")
        self.reply({"stopped": True, **entry.to_json()})


class MonitorHandler(ModelHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        from liminal_jupyter.deploy.monitor import default_threshold

        body = Body(self.request.body)
        model = self.model_request(body)
        data = confined_file(self.root, body.get("data", "str"), DATA_SUFFIXES, "data file")
        threshold = body.data.get("threshold")
        if threshold is None:
            threshold = default_threshold(metadata_settings(model["notebook"]))
        elif isinstance(threshold, bool) or not isinstance(threshold, int | float) \
                or threshold <= 0:
            raise ApiError(400, "'threshold' must be a number above 0 (a PSI, e.g. 0.2).")
        report = report_path_for(data, model["name"])
        request = {"job": "monitor", "name": model["name"], "version": model["version"],
                   "alias": model["alias"], "tracking_uri": model["tracking_uri"],
                   "data": str(data), "threshold": float(threshold), "report": str(report)}
        result = await self.in_model_thread(_job, request)
        relative = report.relative_to(self.root).as_posix()
        result.update(report=relative, tracking_uri=model["tracking_uri"],
                      report_url=url_path_join(self.base_url, "liminal", "models", "report")
                      + f"?path={url_escape(relative, plus=False)}")
        self.reply(result)


class ReportHandler(ModelHandler):
    """A drift report as a page of its own, under a CSP sandbox: no script runs, and the
    page has no access to the Jupyter origin even when opened directly."""

    @property
    def content_security_policy(self) -> str:
        return REPORT_CSP

    @tornado.web.authenticated
    async def get(self) -> None:
        report = report_file(self.root, self.get_query_argument("path", None))
        text = await self.in_thread(report.read_text, "utf-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(text, set_content_type="text/html; charset=utf-8")


def _resolve(model: dict[str, Any]) -> dict[str, Any]:
    return _job({"job": "resolve", "name": model["name"], "version": model["version"],
                 "alias": model["alias"], "tracking_uri": model["tracking_uri"]})


def _job(request: dict[str, Any]) -> dict[str, Any]:
    try:
        return run_job(request)
    except JobError as exc:
        status = {"not_found": 404, "bad_input": 400}.get(exc.kind, 500)
        raise ApiError(status, str(exc)) from None


def _start(served: ServedModels, found: dict[str, Any], model: dict[str, Any], port: int):
    from liminal_jupyter.deploy.serve import ServeError

    try:
        return served.start(found["uri"], model["tracking_uri"], port, found.get("name"),
                            found.get("version"))
    except ServeError as exc:
        status = 409 if "already in use" in str(exc) else 500
        raise ApiError(status, str(exc)) from None


def setup_deploy_handlers(server_app: Any) -> ServedModels:
    """Add the /liminal/models/ routes, and stop every served model at the server's end.

    A plain server extension has no shutdown hook of its own (only ExtensionApps get
    `stop_extension`), so the server's `cleanup_extensions`, which its shutdown awaits, is
    wrapped to stop the served models first.
    """
    web_app = server_app.web_app
    log_dir = Path(tempfile.gettempdir()) / f"liminal-serve-{os.getpid()}-{int(time.time())}"
    records_dir = Path(server_app.runtime_dir) / "liminal-served"
    for orphan in stop_orphans(records_dir):
        server_app.log.warning("liminal_jupyter: stopped a model server left behind by a "
                               "Jupyter server that was killed: %s", orphan)
    served = web_app.settings.setdefault(SERVED_SETTING, ServedModels(log_dir, records_dir))

    def route(*parts: str) -> str:
        return url_path_join(web_app.settings["base_url"], "liminal", "models", *parts)

    web_app.add_handlers(".*$", [
        (route("serve"), ServeHandler),
        (route("served"), ServedHandler),
        (route("served", r"([0-9a-f]+)"), ServedOneHandler),
        (route("monitor"), MonitorHandler),
        (route("report"), ReportHandler),
    ])
    cleanup = server_app.cleanup_extensions

    async def stop_served_then_cleanup() -> None:
        stopped = await IOLoop.current().run_in_executor(None, served.stop_all)
        if stopped:
            server_app.log.info("liminal_jupyter: stopped %d served model(s)", stopped)
        await cleanup()

    server_app.cleanup_extensions = stop_served_then_cleanup
    return served
