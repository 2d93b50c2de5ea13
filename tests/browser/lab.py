"""Helpers of the panel's browser tests: the running JupyterLab, and what the tests do
with its page (open a notebook with the panel, take screenshots, read the app's state).
The fixtures that start JupyterLab and chromium are in browser_setup.py.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import EXAMPLES, REPO

CHROMIUM = "/usr/bin/chromium"
# Flags that let Debian's chromium run headless as root on a machine with no network
# (without the background-networking ones its own connections are refused, many at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "tests" / "browser" / "screenshots"
UI_TIMEOUT_MS = 90_000  # page load, panel render (JupyterLab's first load is slow here)
RUN_TIMEOUT_MS = 400_000  # a whole local run of the example pipeline, under load
VIEWPORT = {"width": 1400, "height": 1000}


@dataclass
class Lab:
    """A running JupyterLab: its URL, token and root dir (notebooks are copied into it)."""

    url: str
    token: str
    root: Path
    settings: Path

    def set_panel_settings(self, values: dict) -> None:
        """The user's settings of the panel, as the Settings Editor saves them (read on the
        next page load)."""
        folder = self.settings / "liminal-jupyter"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "plugin.jupyterlab-settings").write_text(json.dumps(values))

    def tree(self, path: str) -> str:
        """The URL that opens `path` in a fresh workspace."""
        return f"{self.url}lab/tree/{path}?token={self.token}&reset"

    def api(self, route: str) -> dict:
        """GET a server route (e.g. 'liminal/runs?path=x.ipynb') as JSON, with the token."""
        request = urllib.request.Request(
            f"{self.url}{route}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def put_example(lab: Lab, name: str = "iris_classification.ipynb") -> str:
    """Copies an example notebook into the server's root; its path for the contents API."""
    shutil.copy(EXAMPLES / name, lab.root / name)
    return name


def open_notebook(page, lab: Lab, path: str) -> None:
    """Opens `path` in JupyterLab and the liminal panel in the left sidebar."""
    page.goto(lab.tree(path))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    panel = page.locator(".liminal-panel")
    if not panel.is_visible():
        page.click('[data-id="liminal-pipeline-panel"]')
    panel.wait_for(state="visible")


def shoot(page, name: str, height: int | None = None) -> Path:
    """Saves a screenshot of the page under tests/browser/screenshots (`height`: of a
    taller window, then set back)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if height:
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_timeout(500)  # let JupyterLab lay out the taller window
    try:
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(VIEWPORT)
    return path


def shoot_panel(page, name: str) -> Path:
    """Saves a screenshot of the whole panel: the window is made tall enough to show all
    of it (the sidebar scrolls), then set back."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = page.evaluate("() => document.querySelector('.liminal-body').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"],
                                                                      height + 80)})
    try:
        page.locator(".liminal-panel").screenshot(path=str(path))
    finally:
        page.set_viewport_size(VIEWPORT)
    return path


def dialogs(page) -> int:
    """How many JupyterLab dialogs are open (they are native <dialog> elements)."""
    return page.locator("dialog, .jp-Dialog").count()


def app_eval(page, expression: str):
    """Evaluates `expression` with `app` bound to JupyterLab's application."""
    return page.evaluate(f"() => {{ const app = window.jupyterapp; return {expression}; }}")
