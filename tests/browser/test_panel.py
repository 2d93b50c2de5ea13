"""The pipeline panel in a real JupyterLab, driven in Debian's chromium.

Real server extension, real runs (papermill kernels started by the runner the server
launches), real browser. Each test saves screenshots under tests/browser/screenshots/.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.browser.lab import (
    RUN_TIMEOUT_MS,
    app_eval,
    open_notebook,
    put_example,
    shoot,
    shoot_panel,
)

pytest_plugins = ("tests.browser.browser_setup",)

IRIS_STEPS = ["fetch", "prepare", "train", "evaluate", "validate"]


def cell_badge(page, index: int) -> str:
    """The badge text of the notebook's cell `index`, once it is scrolled into view."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    return cell.locator(".liminal-CellBadge").inner_text()


def cell_tags(notebook: dict) -> list[list[str]]:
    return [cell.get("metadata", {}).get("tags", []) for cell in notebook["cells"]]


def test_panel_shows_the_pipeline_runs_it_and_opens_an_executed_step(lab, page):
    path = put_example(lab)
    on_disk = (lab.root / path).read_bytes()
    open_notebook(page, lab, path)

    # The pipeline at once: every step as a node, data edges labelled with their variables.
    page.wait_for_selector('.liminal-dag-node[data-step="validate"]')
    steps = page.eval_on_selector_all(".liminal-dag-node", "ns => ns.map(n => n.dataset.step)")
    assert sorted(steps) == sorted(IRIS_STEPS)
    labels = page.eval_on_selector_all(
        ".liminal-dag-edge", "es => es.map(e => [e.dataset.source, e.dataset.target,"
        " e.querySelector('text').textContent])"
    )
    assert ["fetch", "prepare", "raw"] in labels
    assert ["train", "evaluate", "clf"] in labels
    assert page.locator(".liminal-title").inner_text() == "iris-classification"

    # The parameters as a form seeded from the parameters cell.
    assert page.input_value("#liminal-param-n_estimators") == "100"
    assert page.input_value("#liminal-param-test_size") == "0.25"

    # Cells show their step (cells render lazily: look at each in view); showing the
    # pipeline wrote nothing to the notebook.
    assert cell_badge(page, 3) == "parameters"
    assert cell_badge(page, 6) == "fetch"
    assert cell_badge(page, 11) == "train"
    assert cell_badge(page, 17) == "metrics"
    model = app_eval(page, "app.shell.currentWidget.context.model.toJSON()")
    assert cell_tags(model) == cell_tags(json.loads(on_disk))
    assert "liminal" not in model["metadata"]
    assert (lab.root / path).read_bytes() == on_disk

    # Submit needs a KFP host: disabled, with the hint, and no dialog.
    assert page.locator("button.liminal-submit").is_disabled()
    assert "KFP host" in page.locator(".liminal-hint").first.inner_text()

    # A wrong value is caught in the form; then run with n_estimators=20.
    page.fill("#liminal-param-n_estimators", "2.5")
    assert "whole number" in page.locator('[data-param="n_estimators"]').inner_text()
    page.fill("#liminal-param-n_estimators", "20")
    page.click("button.liminal-run")
    page.wait_for_selector('.liminal-run-detail[data-status="running"]')
    page.wait_for_selector('.liminal-dag-node[data-status="running"]', timeout=RUN_TIMEOUT_MS)
    shoot_panel(page, "run-in-progress")
    page.wait_for_selector(
        '.liminal-run-detail:not([data-status="running"])', timeout=RUN_TIMEOUT_MS
    )
    detail = page.locator(".liminal-run-detail")
    assert detail.get_attribute("data-status") == "succeeded", detail.inner_text()

    # Every step turned succeeded, on the DAG and in the step list, with its metrics.
    node_states = page.eval_on_selector_all(
        ".liminal-dag-node", "ns => ns.map(n => [n.dataset.step, n.dataset.status])"
    )
    assert sorted(node_states) == sorted([step, "succeeded"] for step in IRIS_STEPS)
    rows = page.eval_on_selector_all(
        ".liminal-step-row", "rs => rs.map(r => [r.dataset.step, r.dataset.status])"
    )
    assert rows == [[step, "succeeded"] for step in IRIS_STEPS]
    assert "accuracy=" in page.locator(".liminal-step-metrics").first.inner_text()
    assert "n_estimators=20" in page.locator(".liminal-run-params").inner_text()
    run_id = detail.get_attribute("data-run")
    runs = lab.api(f"liminal/runs?path={path}")["runs"]
    assert runs[0]["run_id"] == run_id and runs[0]["parameters"] == {"n_estimators": 20}
    shoot_panel(page, "run-succeeded")
    # The picture of the README (docs/panel.png): the notebook at its steps, the panel.
    app_eval(page, "app.shell.currentWidget.content.scrollToItem(8, 'start')")
    shoot(page, "run-succeeded-page", height=1250)

    # This Lab hides dot folders (a plain `jupyter lab`), so the link opens the executed
    # step notebook in the read-only viewer: its cells, and the output the step printed.
    assert lab.api("liminal/status")["allow_hidden"] is False
    page.click('.liminal-step-row[data-step="evaluate"] .liminal-open-executed')
    viewer = page.locator('.liminal-executed-viewer[data-step="evaluate"]')
    viewer.locator(".liminal-executed-outputs").first.wait_for()
    assert viewer.get_attribute("data-run") == run_id
    assert app_eval(page, "app.shell.currentWidget.title.label") == f"evaluate · {run_id}"
    outputs = viewer.locator(".liminal-executed-outputs").all_inner_texts()
    assert any("accuracy=" in text for text in outputs), outputs
    assert "accuracy_score(y_test, predictions)" in viewer.inner_text()
    assert page.locator(".liminal-title").inner_text() == "iris-classification"
    shoot(page, "executed-step-notebook")

    # The source notebook was never written.
    assert (lab.root / path).read_bytes() == on_disk


def test_a_broken_notebook_shows_its_error_and_the_click_lands_on_the_cell(lab, page):
    notebook = json.loads((lab.root / put_example(lab)).read_text())
    evaluate = notebook["cells"][13]
    source = "".join(evaluate["source"])
    assert source.startswith("predictions = clf.predict")
    evaluate["source"] = source.replace("clf.predict", "model.predict", 1)
    (lab.root / "broken.ipynb").write_text(json.dumps(notebook))
    open_notebook(page, lab, "broken.ipynb")

    problem = page.locator('.liminal-diagnostic-error[data-code="undefined-name"]')
    problem.wait_for()
    assert "model" in problem.inner_text()
    assert "cell 14" in problem.inner_text()  # shown 1-based, as JupyterLab numbers cells
    assert page.locator("button.liminal-run").is_disabled()
    assert page.locator("button.liminal-compile").is_disabled()

    app_eval(page, "(app.shell.currentWidget.content.activeCellIndex = 0)")
    assert app_eval(page, "app.shell.currentWidget.content.activeCellIndex") == 0
    problem.click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex === 13"
    )
    active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
    assert "model.predict" in active.inner_text()
    assert active.is_visible()
    shoot(page, "broken-notebook")


def test_cells_show_their_step_and_the_role_command_edits_tags(lab, page):
    path = put_example(lab)
    open_notebook(page, lab, path)
    page.wait_for_selector('.liminal-dag-node[data-step="validate"]')
    assert cell_badge(page, 11) == "train"

    # The role control is in the active cell's toolbar.
    app_eval(page, "(app.shell.currentWidget.content.activeCellIndex = 7)")
    page.locator(".jp-Notebook .jp-Cell").nth(7).click()
    toolbar_button = page.locator(
        ".jp-Notebook .jp-Cell.jp-mod-active .jp-cell-toolbar"
        ' [data-command="liminal:cell-role-menu"]'
    )
    toolbar_button.wait_for()
    toolbar_button.click()
    page.locator('.lm-Menu-item:has-text("Skip (leave out of the pipeline)")').click()
    tags = app_eval(page, "app.shell.currentWidget.content.widgets[7].model.getMetadata('tags')")
    assert tags == ["skip"]

    # A role with a name, from the command (as the palette and context menu call it).
    page.evaluate(
        "() => window.jupyterapp.commands.execute('liminal:set-cell-role', {role: 'step:show'})"
    )
    tags = app_eval(page, "app.shell.currentWidget.content.widgets[7].model.getMetadata('tags')")
    assert tags == ["step:show"]
    # Editing is a user action: now the notebook is modified, and saving re-reads the DAG.
    assert app_eval(page, "app.shell.currentWidget.context.model.dirty")
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_selector('.liminal-dag-node[data-step="show"]')
    saved = json.loads((lab.root / path).read_text())
    assert saved["cells"][7]["metadata"]["tags"] == ["step:show"]
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[7]"
        ".querySelector('.liminal-CellBadge')?.textContent === 'show'"
    )
    assert cell_badge(page, 6) == "fetch"
    assert cell_badge(page, 11) == "train"
    shoot(page, "cell-role-step")


def test_compile_downloads_the_kfp_yaml(lab, page):
    path = put_example(lab)
    open_notebook(page, lab, path)
    page.wait_for_selector('.liminal-dag-node[data-step="validate"]')
    with page.expect_download(timeout=RUN_TIMEOUT_MS) as download:
        page.click("button.liminal-compile")
    assert download.value.suggested_filename == "iris-classification.pipeline.yaml"
    yaml_text = Path(download.value.path()).read_text()
    assert "pipelineInfo:" in yaml_text and "name: iris-classification" in yaml_text
    assert page.locator(".liminal-action-info").inner_text() == (
        "Compiled: iris-classification.pipeline.yaml"
    )
    # Nothing was written next to the notebook: the YAML went to the browser only.
    assert not (lab.root / "iris-classification.pipeline.yaml").exists()


CHAIN = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": step, "outputs": [],
         "metadata": {"tags": [f"step:{step}"]}, "source": source}
        for step, source in (("load", "rows = [1, 2, 3]"), ("add", "total = sum(rows)"),
                             ("report", "text = str(total)"))
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_a_run_submitted_to_kfp_turns_the_dag_green_step_by_step(lab, page):
    """No Kubeflow cluster can run here: the host is the KFP REST stand-in on 127.0.0.1
    (tests/engines/kfp/kfp_standin.py), moving the run one task per poll; the panel follows
    it through the server (server/remote_runs.py) without a reload."""
    import time

    from tests.browser.lab import dialogs
    from tests.engines.kfp.kfp_standin import KfpStandin

    (lab.root / "chain.ipynb").write_text(json.dumps(CHAIN))
    with KfpStandin(task_by_task=True) as kfp:
        lab.set_panel_settings({"kfpHost": kfp.url})
        try:
            open_notebook(page, lab, "chain.ipynb")
            page.wait_for_selector('.liminal-dag-node[data-step="report"]')
            page.wait_for_function(
                "() => !document.querySelector('button.liminal-submit').disabled")
            page.click("button.liminal-submit")
            page.locator(".liminal-engine-link").wait_for(timeout=30_000)
            seen = []
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                states = dict(page.eval_on_selector_all(
                    ".liminal-dag-node", "ns => ns.map(n => [n.dataset.step, n.dataset.status])"))
                if not seen or seen[-1] != states:
                    seen.append(states)
                if all(states.get(s) == "succeeded" for s in ("load", "add", "report")):
                    break
                time.sleep(0.2)
            order = ["load", "add", "report"]
            greens = [[s for s in order if states.get(s) == "succeeded"] for states in seen]
            assert greens[-1] == order, seen
            # one step at a time, in order: load alone green, then load and add
            assert ["load"] in greens and ["load", "add"] in greens, seen
            link = page.locator(".liminal-engine-link").get_attribute("href")
            assert link.startswith(f"{kfp.url}/#/runs/details/")
            assert dialogs(page) == 0
        finally:
            lab.set_panel_settings({})
