"""The panel's engine list and the runs list's filters, in a real JupyterLab in chromium:
every engine of the server's registry is listed with what it can do, and the runs (real
ones, started from a terminal as `liminal-nb run`) filter by engine and by status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.browser.lab import RUN_TIMEOUT_MS, open_notebook, shoot_panel

pytest_plugins = ("tests.browser.browser_setup",)

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "p", "outputs": [],
         "metadata": {"tags": ["parameters"]}, "source": "fail = False"},
        {"cell_type": "code", "execution_count": None, "id": "a", "outputs": [],
         "metadata": {"tags": ["step:first"]}, "source": "x = 1"},
        {"cell_type": "code", "execution_count": None, "id": "b", "outputs": [],
         "metadata": {"tags": ["step:second"]},
         "source": "if fail:\n    raise ValueError('asked to fail')\ny = x + 1"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def run(root: Path, *args: str) -> int:
    cli = Path(sys.executable).parent / "liminal-nb"
    return subprocess.run([str(cli), "run", "runs.ipynb", "--quiet", "--no-tracking", *args],
                          cwd=root, timeout=300).returncode


def test_engines_listed_with_capabilities_and_runs_filtered(lab, page):
    (lab.root / "runs.ipynb").write_text(json.dumps(NOTEBOOK))
    assert run(lab.root) == 0
    assert run(lab.root, "-p", "fail=True") == 1
    open_notebook(page, lab, "runs.ipynb")

    # Every engine of the registry, with its capabilities.
    engines = lab.api("liminal/status")["engines"]
    page.locator(".liminal-engines summary").click()
    for engine in engines:
        row = page.locator(f'.liminal-engine[data-engine="{engine["name"]}"]')
        text = row.inner_text()
        assert text.startswith(engine["name"])
        assert ("submits to a host" in text) == engine["capabilities"]["submit"]
        assert ("runs here" in text) == engine["capabilities"]["run"]
        assert row.get_attribute("title") == engine["description"]
    assert "liminal-selected" in page.locator('.liminal-engine[data-engine="local"]').get_attribute(
        "class")

    # The two runs, then filtered by status and by engine.
    page.wait_for_function("() => document.querySelectorAll('.liminal-run-row').length === 2")
    statuses = page.eval_on_selector_all(".liminal-run-row", "rs => rs.map(r => r.dataset.status)")
    assert sorted(statuses) == ["failed", "succeeded"]
    options = page.eval_on_selector_all(
        ".liminal-runs-engine option", "os => os.map(o => o.value)")
    assert options == ["", "local"]
    page.select_option(".liminal-runs-status", "failed")
    rows = page.eval_on_selector_all(".liminal-run-row", "rs => rs.map(r => r.dataset.status)")
    assert rows == ["failed"]
    page.select_option(".liminal-runs-engine", "local")
    assert page.locator(".liminal-run-row").count() == 1
    shoot_panel(page, "runs-filtered")
    page.select_option(".liminal-runs-status", "")
    assert page.locator(".liminal-run-row").count() == 2

    # Re-run the failed run: a new run with its parameters (fail=True), whatever the form
    # holds (its defaults), on its engine; it fails the same way.
    page.locator('.liminal-run-row[data-status="failed"]').click()
    page.locator('.liminal-run-detail[data-status="failed"]').wait_for()
    assert "fail=true" in page.locator(".liminal-run-params").inner_text()
    page.click(".liminal-rerun")
    page.wait_for_function("() => document.querySelectorAll('.liminal-run-row').length === 3",
                           timeout=RUN_TIMEOUT_MS)
    runs = lab.api("liminal/runs?path=runs.ipynb")["runs"]
    assert len(runs) == 3
    newest = max(runs, key=lambda r: r["started"])
    assert newest["parameters"] == {"fail": True} and newest["backend"] == "local"
