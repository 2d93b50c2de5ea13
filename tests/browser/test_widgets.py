"""The ipywidgets views of the Python API, rendered by a real JupyterLab in chromium.

A notebook calls `Pipeline.from_notebook(...).run()` and `.form()`; its cells are run
from the UI (keyboard), in a real kernel started by the Lab. The widget models live in
the kernel, the views render in the page through JupyterLab's widget manager
(jupyterlab_widgets, installed with ipywidgets, prebuilt: nothing is fetched from a CDN,
and this machine has no network to fetch it from).
"""

from __future__ import annotations

import json

from tests.browser.lab import RUN_TIMEOUT_MS, Lab, app_eval, open_notebook, put_example, shoot
from tests.conftest import notebook_json

pytest_plugins = ("tests.browser.browser_setup",)

IRIS_STEPS = 5
RUN_CELL = """\
from liminal_jupyter import Pipeline
run = Pipeline.from_notebook('iris_classification.ipynb').run(tracking=False)
"""
FORM_CELL = "Pipeline.from_notebook('parameters_and_matrix.ipynb').form(tracking=False)"


def widgets_notebook(lab: Lab) -> str:
    """A notebook beside the examples whose two cells show the run view and the form."""
    put_example(lab)
    put_example(lab, "parameters_and_matrix.ipynb")
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
              "execution_count": None} for source in (RUN_CELL, FORM_CELL)]
    (lab.root / "widgets.ipynb").write_text(json.dumps(notebook_json(cells)))
    return "widgets.ipynb"


def run_cells_from_the_keyboard(page, count: int) -> None:
    """Waits for the kernel, clicks into the first cell and presses Shift+Enter `count`
    times (each runs a cell and moves to the next)."""
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
        "?.status === 'idle'"
    )
    app_eval(page, "(app.shell.currentWidget.content.activeCellIndex = 0)")
    page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputArea-editor").click()
    for _ in range(count):
        page.keyboard.press("Shift+Enter")


def test_the_run_view_and_the_parameter_form_render_in_jupyterlab(lab, page):
    open_notebook(page, lab, widgets_notebook(lab))
    run_cells_from_the_keyboard(page, 2)

    # The live run view: one state label per step, each turning 'succeeded'.
    view = page.locator(".liminal-run-view")
    view.wait_for()
    page.wait_for_function(
        "n => document.querySelectorAll('.liminal-run-view .liminal-step-state').length === n",
        arg=IRIS_STEPS,
    )
    shoot(page, "widgets-run-view-running")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.liminal-run-view .liminal-step-state')]"
        ".every(label => label.textContent.trim() === 'succeeded')",
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_function(
        "() => document.querySelector('.liminal-run-view .liminal-run-status')"
        "?.textContent.trim() === 'succeeded'",
        timeout=RUN_TIMEOUT_MS,
    )
    steps = view.locator(".liminal-step-row").all_inner_texts()
    assert [row.split()[0] for row in steps] == [
        "fetch", "prepare", "train", "evaluate", "validate"]
    # The metrics table (sent before the status; a busy page may still be drawing it).
    view.locator(".liminal-metrics").wait_for(timeout=RUN_TIMEOUT_MS)
    assert "accuracy" in view.inner_text()
    view.scroll_into_view_if_needed()
    shoot(page, "widgets-run-view-succeeded")

    # The form: sliders for the bounded numbers, a dropdown of the Literal choices, a
    # checkbox for the bool, text for the rest; each seeded with its default.
    form = page.locator(".liminal-parameter-form")
    form.wait_for()
    form.scroll_into_view_if_needed()
    assert form.locator(".widget-slider").count() == 2  # n_samples, noise
    assert form.locator(".widget-slider", has_text="n_samples").locator(
        ".widget-readout").inner_text() == "600"
    choices = form.locator(".widget-dropdown select")
    assert choices.locator("option").all_inner_texts() == ["logistic", "svm", "forest"]
    assert choices.input_value() == choices.locator("option", has_text="svm").get_attribute(
        "value")
    assert form.locator(".widget-checkbox input[type=checkbox]").is_checked()
    assert form.locator(".widget-text input").first.input_value() == "1.0"  # C
    assert form.locator("button", has_text="Run").is_visible()
    shoot(page, "widgets-parameter-form")
