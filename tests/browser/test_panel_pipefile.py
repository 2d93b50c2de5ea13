"""The panel on a pipeline file (liminal.yml) and on a fan-out step, in a real JupyterLab
driven in Debian's chromium.

Real server extension, real runs (the runner the server launches, papermill kernels),
real browser. Runs are started from the panel's Run button; the tests only add
`"tracking": false` to the POST body the panel sends (a body field the server takes), so
no MLflow store is set up for them. Screenshots go to tests/browser/screenshots/.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.browser.lab import (
    RUN_TIMEOUT_MS,
    app_eval,
    open_notebook,
    put_example,
    shoot,
    shoot_panel,
)
from tests.conftest import EXAMPLES

pytest_plugins = ("tests.browser.browser_setup",)

# The example's three notebooks, their steps (load.ipynb has no tags: one step).
WINE_NOTEBOOKS = ["load.ipynb", "features.ipynb", "train.ipynb"]
WINE_STEPS = {"load": "load.ipynb", "clean": "features.ipynb", "split": "features.ipynb",
              "train": "train.ipynb", "evaluate": "train.ipynb"}
DEPTHS = [1, 2, 3, 5]  # wine_depths_foreach.ipynb's max_depth


def without_tracking(page) -> None:
    """Runs the panel starts log nothing to MLflow (POST /liminal/runs `tracking`)."""

    def handle(route):
        if route.request.method != "POST":
            route.continue_()
            return
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "tracking": False}))

    page.route(re.compile(r"/liminal/runs$"), handle)


def open_panel(page) -> None:
    panel = page.locator(".liminal-panel")
    if not panel.is_visible():
        page.click('[data-id="liminal-pipeline-panel"]')
    panel.wait_for(state="visible")


def node_attrs(page, *names: str) -> list[list[str]]:
    """Each DAG node's data attributes `names`, as drawn."""
    fields = ", ".join(f"n.dataset.{name} ?? ''" for name in names)
    return page.eval_on_selector_all(".liminal-dag-node", f"ns => ns.map(n => [{fields}])")


def run_and_wait(page) -> str:
    """Clicks Run; waits for the run to end; its id."""
    previous = page.locator(".liminal-run-detail").get_attribute("data-run") \
        if page.locator(".liminal-run-detail").count() else None
    page.click("button.liminal-run")
    page.wait_for_function(
        "previous => { const d = document.querySelector('.liminal-run-detail');"
        " return d && d.dataset.run !== previous && d.dataset.status !== 'running'; }",
        arg=previous, timeout=RUN_TIMEOUT_MS)
    return page.locator(".liminal-run-detail").get_attribute("data-run")


def test_the_pipeline_file_shows_every_notebook_runs_and_its_notebooks_show_it(lab, page):
    shutil.copytree(EXAMPLES / "wine_pipeline", lab.root / "wine_pipeline")
    pipeline_file = "wine_pipeline/liminal.yml"
    without_tracking(page)
    page.goto(lab.tree(pipeline_file))
    page.wait_for_selector(".jp-FileEditor")
    open_panel(page)

    # Every notebook's steps in one DAG, each banded by its notebook, and the legend.
    page.wait_for_selector('.liminal-dag-node[data-step="evaluate"]')
    assert sorted(node_attrs(page, "step", "notebook")) == sorted(
        [step, notebook] for step, notebook in WINE_STEPS.items())
    legend = page.eval_on_selector_all(".liminal-dag-notebook",
                                       "ls => ls.map(l => [l.dataset.notebook, l.textContent])")
    assert legend == [[n, n.removesuffix(".ipynb")] for n in WINE_NOTEBOOKS]
    bands = page.eval_on_selector_all(
        ".liminal-dag-node", "ns => ns.map(n => [n.dataset.notebook,"
        " getComputedStyle(n.querySelector('.liminal-dag-node-band')).backgroundColor])")
    colour_of = dict(bands)
    assert len(bands) == len(WINE_STEPS) and len(set(colour_of.values())) == 3
    assert all(colour_of[notebook] == colour for notebook, colour in bands)
    assert page.locator(".liminal-title").inner_text() == "wine-pipeline"
    assert "3 notebooks" in page.locator(".liminal-pipeline-file").inner_text()
    assert page.locator(".liminal-diagnostic-error").count() == 0

    # Run: every step turns green, live, and the run is the pipeline file's.
    run_id = run_and_wait(page)
    detail = page.locator(".liminal-run-detail")
    assert detail.get_attribute("data-status") == "succeeded", detail.inner_text()
    page.wait_for_function(
        "n => Array.from(document.querySelectorAll('.liminal-dag-node'))"
        ".filter(x => x.dataset.status === 'succeeded').length === n", arg=len(WINE_STEPS))
    assert sorted(node_attrs(page, "step", "status")) == sorted(
        [step, "succeeded"] for step in WINE_STEPS)
    runs = lab.api(f"liminal/runs?path={pipeline_file}")["runs"]
    assert runs[0]["run_id"] == run_id
    shoot_panel(page, "pipeline-file-run-succeeded")
    shoot(page, "pipeline-file-page")

    # A step of another notebook: its notebook opens at the step's first cell.
    train = json.loads((lab.root / "wine_pipeline" / "train.ipynb").read_text())
    first = next(i for i, c in enumerate(train["cells"])
                 if "step:train" in c.get("metadata", {}).get("tags", []))
    page.click('.liminal-dag-node[data-step="train"]')
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.context?.path"
        " === 'wine_pipeline/train.ipynb'")
    page.wait_for_function(
        f"() => window.jupyterapp.shell.currentWidget.content.activeCellIndex === {first}")
    assert "make_pipeline" in page.locator(".jp-Notebook .jp-Cell.jp-mod-active").inner_text()

    # The notebook's panel: the same whole pipeline, naming the file, with the file's run.
    page.wait_for_selector('.liminal-subtitle[title="wine_pipeline/train.ipynb"]')
    line = page.locator(".liminal-pipeline-file")
    assert line.get_attribute("data-path") == pipeline_file
    assert pipeline_file in line.inner_text()
    assert sorted(node_attrs(page, "step", "status")) == sorted(
        [step, "succeeded"] for step in WINE_STEPS)
    assert page.locator(".liminal-run-detail").get_attribute("data-run") == run_id
    shoot(page, "pipeline-file-notebook")

    # The notebook opened afresh (a new page) reads the same, and its badges are its own.
    page.goto(lab.tree("wine_pipeline/train.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    open_panel(page)
    page.wait_for_selector('.liminal-dag-node[data-step="load"]')
    assert sorted(n for (n,) in node_attrs(page, "step")) == sorted(WINE_STEPS)
    assert page.locator(".liminal-pipeline-file").get_attribute("data-path") == pipeline_file
    page.wait_for_selector(f'.liminal-run-row[data-run="{run_id}"]')
    cell = page.locator(".jp-Notebook .jp-Cell").nth(first)
    cell.scroll_into_view_if_needed()
    assert cell.locator(".liminal-CellBadge").inner_text() == "train"

    # Compile from the notebook compiles the whole file's pipeline.
    with page.expect_download(timeout=RUN_TIMEOUT_MS) as download:
        page.click("button.liminal-compile")
    assert download.value.suggested_filename == "wine-pipeline.pipeline.yaml"
    compiled = Path(download.value.path()).read_text()
    assert "name: wine-pipeline" in compiled
    assert all(f"comp-step-{step}:" in compiled for step in WINE_STEPS)

    # The file's line opens the file, which the panel then follows.
    line.locator("button").click()
    page.wait_for_function(
        f"() => window.jupyterapp.shell.currentWidget?.context?.path === '{pipeline_file}'")
    page.wait_for_selector(f'.liminal-subtitle[title="{pipeline_file}"]')
    assert app_eval(page, "app.shell.currentWidget.context.path") == pipeline_file

    # Saving the file re-reads it: a new name shows at once.
    page.evaluate(
        "() => { const m = window.jupyterapp.shell.currentWidget.context.model.sharedModel;"
        " m.setSource(m.getSource().replace('name: wine-pipeline', 'name: wine-renamed')); }")
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(
        "() => document.querySelector('.liminal-title')?.textContent === 'wine-renamed'")
    assert "name: wine-renamed" in (lab.root / pipeline_file).read_text()


def test_a_fan_out_step_counts_its_elements_and_names_the_one_that_failed(lab, page):
    path = put_example(lab, "wine_depths_foreach.ipynb")
    without_tracking(page)
    open_notebook(page, lab, path)

    node = page.locator('.liminal-dag-node[data-step="train"]')
    node.wait_for()
    assert node.get_attribute("data-foreach") == "max_depth"
    assert "for each max_depth" in node.inner_text()

    run_and_wait(page)
    detail = page.locator(".liminal-run-detail")
    assert detail.get_attribute("data-status") == "succeeded", detail.inner_text()
    page.wait_for_selector('.liminal-dag-node[data-step="pick"][data-status="succeeded"]')
    assert node.get_attribute("data-status") == "succeeded"
    assert (node.get_attribute("data-done"), node.get_attribute("data-total")) == ("4", "4")
    assert node.get_attribute("data-failed") == "0"
    assert f"{len(DEPTHS)}/{len(DEPTHS)} done" in node.inner_text()
    rows = page.eval_on_selector_all(
        ".liminal-step-row", "rs => rs.map(r => [r.dataset.step, r.dataset.status])")
    assert rows == [["load", "succeeded"], ["train", "succeeded"],
                    *[[f"train.{i}", "succeeded"] for i in range(len(DEPTHS))],
                    ["pick", "succeeded"]]
    assert "4/4 done" in page.locator('.liminal-step-row[data-step="train"]').inner_text()
    shoot_panel(page, "fan-out-succeeded")

    # One depth the model refuses: the step fails, the DAG says how many, the detail names
    # the element (the depth 2 element comes from the cache: its value ran before).
    page.fill("#liminal-param-max_depth", "[2, 0]")
    run_and_wait(page)
    assert detail.get_attribute("data-status") == "failed", detail.inner_text()
    page.wait_for_selector('.liminal-dag-node[data-step="train"][data-status="failed"]')
    assert (node.get_attribute("data-done"), node.get_attribute("data-failed"),
            node.get_attribute("data-total")) == ("1", "1", "2")
    assert "1/2 done · 1 failed" in node.inner_text()
    error = page.locator(".liminal-step-element-error").first
    assert error.get_attribute("data-step") == "train.1"
    assert error.inner_text().startswith("element 1 of max_depth (0): "), error.inner_text()
    assert page.locator('.liminal-step-row[data-step="train.0"]').get_attribute(
        "data-status") == "cached"
    shoot_panel(page, "fan-out-failed-element")
