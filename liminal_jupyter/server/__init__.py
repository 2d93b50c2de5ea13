"""The Jupyter server extension: REST handlers under `{base_url}liminal/` for the panel.

The contract is docs/rest-api.md. Handlers only read notebooks and the run store, and
start runs as child processes (`liminal_jupyter.runs.launch`): no user code ever runs
in the Jupyter server process.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "liminal_jupyter.server"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the handlers with the server's web app (called once by jupyter_server)."""
    from liminal_jupyter.server.routes import setup_route_handlers

    setup_route_handlers(server_app.web_app)
    from liminal_jupyter.server.deploy_routes import setup_deploy_handlers

    setup_deploy_handlers(server_app)
    from liminal_jupyter.server.routes import setup_not_found_handler

    setup_not_found_handler(server_app.web_app)  # last: it answers what no route took
    server_app.log.info("liminal_jupyter: registered the /liminal/ REST handlers")
