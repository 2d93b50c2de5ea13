"""The panel's "Debug" on a failed step, in a real JupyterLab in chromium: the step's
inputs land in the notebook's own kernel (a following cell prints one) and the failing
cell is selected; "Load inputs into kernel" asks before overwriting what the kernel holds;
a failed element of a fan-out step is debugged the same way, its element bound.
The run is real (launched as the panel's Run button would, next to the notebook).
"""

from __future__ import annotations

import json

from liminal_jupyter.runs.launch import launch_run
from tests.browser.lab import UI_TIMEOUT_MS, app_eval, dialogs, open_notebook, shoot_panel
from tests.conftest import code, notebook_json

pytest_plugins = ("tests.browser.browser_setup",)

RUN_TIMEOUT_S = 300
DEBUG_ME = [
    code("n = 4\ndivisor = 0", "parameters"),
    code("rows = list(range(n))", "step:load"),
    code("total = sum(rows) / divisor", "step:add"),  # cell 2: fails, divisor is 0
    code("print('rows are', rows, 'divisor', divisor)", "skip"),  # the user's scratch cell
]


def output_of(page, index: int) -> str:
    return page.evaluate(
        "i => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
        ".querySelector('.jp-OutputArea')?.innerText ?? ''", index)


def debugged_then_ran_cell(page, debug_button, cell: int, printed: str) -> str:
    """Click a Debug button, wait until the failing cell (2) is selected, then run the
    user's scratch cell `cell` in the notebook's kernel: what it printed."""
    debug_button.click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex === 2",
        timeout=UI_TIMEOUT_MS)
    app_eval(page, f"app.shell.currentWidget.content.activeCellIndex = {cell}")
    app_eval(page, "app.commands.execute('notebook:run-cell')")
    page.wait_for_function(
        "([i, text]) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
        ".querySelector('.jp-OutputArea')?.innerText.includes(text)",
        arg=[cell, printed], timeout=UI_TIMEOUT_MS)
    return output_of(page, cell)


def test_debug_loads_the_failed_steps_inputs_into_the_kernel_and_selects_its_cell(lab, page):
    notebook = lab.root / "debug_me.ipynb"
    notebook.write_text(json.dumps(notebook_json(DEBUG_ME)))
    launched = launch_run(notebook, {"n": 5}, tracking=False)
    assert launched.process.wait(timeout=RUN_TIMEOUT_S) == 1  # the add step failed
    run_id = launched.run_id

    open_notebook(page, lab, "debug_me.ipynb")
    page.wait_for_selector(f'.liminal-run-detail[data-run="{run_id}"][data-status="failed"]')
    debug = page.locator(".liminal-debug-step")
    assert debug.count() == 1  # only the failed step offers it
    app_eval(page, "app.shell.currentWidget.content.activeCellIndex = 0")
    # The user's next cell, run in the notebook's kernel, sees what the step read.
    printed = debugged_then_ran_cell(page, debug, 3, "rows are")
    shoot_panel(page, "debug-step")
    assert "rows are [0, 1, 2, 3, 4] divisor 0" in printed

    # Loading again would overwrite rows and divisor: the panel asks first.
    page.locator(".liminal-step-more .liminal-load-inputs").click()  # the failed row's
    page.wait_for_selector("dialog .jp-Dialog-content, .jp-Dialog .jp-Dialog-content",
                           timeout=UI_TIMEOUT_MS)
    body = page.locator(".jp-Dialog-body").inner_text()
    assert "already holds rows, divisor" in body
    page.click(".jp-Dialog-button.jp-mod-reject")
    page.wait_for_function("() => !document.querySelector('.jp-Dialog')")
    assert dialogs(page) == 0


def test_run_to_here_runs_a_step_and_what_it_depends_on_only(lab, page):
    notebook = lab.root / "partial_me.ipynb"
    notebook.write_text(json.dumps(notebook_json(DEBUG_ME)))
    first = launch_run(notebook, tracking=False)
    assert first.process.wait(timeout=RUN_TIMEOUT_S) == 1
    open_notebook(page, lab, "partial_me.ipynb")
    page.wait_for_selector(f'.liminal-run-detail[data-run="{first.run_id}"]')

    page.click('.liminal-step-row[data-step="load"]')  # opens the row: its actions
    page.locator(".liminal-run-to").first.click()
    page.wait_for_selector(f'.liminal-run-detail:not([data-run="{first.run_id}"])'
                           '[data-status="succeeded"]', timeout=UI_TIMEOUT_MS * 3)
    states = page.eval_on_selector_all(
        ".liminal-step-row", "rs => rs.map(r => [r.dataset.step, r.dataset.status])")
    assert states == [["load", "succeeded"], ["add", "skipped"]]


FAN_OUT = [
    code("sizes = [2, 0, 5]", "parameters"),
    code("total = 10", "step:load"),
    code("share = total / sizes", "step:split", "foreach:sizes"),  # cell 2: element 1 fails
    code("print('sizes is', sizes, 'total', total)", "skip"),
]


def test_debug_on_a_failed_element_loads_its_inputs_with_its_element_bound(lab, page):
    """A fan-out step's element row (`split.1`) offers Debug like a step's: its inputs
    land in the kernel with NAME bound to that element, as the element's kernel had it."""
    notebook = lab.root / "fan_me.ipynb"
    notebook.write_text(json.dumps(notebook_json(FAN_OUT)))
    launched = launch_run(notebook, tracking=False)
    assert launched.process.wait(timeout=RUN_TIMEOUT_S) == 1  # element 1 divides by 0

    open_notebook(page, lab, "fan_me.ipynb")
    page.wait_for_selector(f'.liminal-run-detail[data-run="{launched.run_id}"]'
                           '[data-status="failed"]')
    app_eval(page, "app.shell.currentWidget.content.activeCellIndex = 0")
    element_debug = page.locator('.liminal-step-row[data-step="split.1"] + '
                                 '.liminal-step-more .liminal-debug-step')
    assert "sizes is 0 total 10" in debugged_then_ran_cell(page, element_debug, 3, "sizes is")
