"""Executed step notebooks opened from the panel, in a real JupyterLab in chromium.

A plain `jupyter lab` hides the `.liminal/` folder from its contents API, so the panel
shows an executed step notebook in its read-only viewer (fetched from the server
extension): cells, and outputs rendered by JupyterLab's rendermime, untrusted, so no
script runs. Started with `--ContentsManager.allow_hidden=True`, the panel opens the file
itself. The runs are real (started as `liminal-nb run` would, next to the notebook).
"""

from __future__ import annotations

import json

from liminal_jupyter.runs.launch import launch_run
from tests.browser.lab import Lab, app_eval, open_notebook, shoot
from tests.conftest import code, notebook_json

pytest_plugins = ("tests.browser.browser_setup",)

RUN_TIMEOUT_S = 300  # a two-step run of a tiny notebook, under load

# An 8x8 PNG, so an image output needs no plotting library.
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEklEQVR4nGP4z8CAFWEXHbQSACj/P8Fu"
       "7N9hAAAAAElFTkSuQmCC")
SHOW = [
    code("from IPython.display import HTML, Markdown, display", "imports"),
    code("display(Markdown('## rendered **markdown** output'))\n"
         "display(HTML(\"<b>bold html</b><script>window.liminalScriptRan = 1</script>\"))\n"
         f"display({{'image/png': {PNG!r}}}, raw=True)\n"
         "shown = 3\n"
         "print('printed', shown)", "step:show"),
    code("raise ValueError(f'too small: {shown}')", "step:boom"),
]


def run_show_notebook(lab: Lab) -> str:
    """Writes show.ipynb into the Lab's root and runs it to its end (its `boom` step
    fails on purpose); the run id."""
    notebook = lab.root / "show.ipynb"
    notebook.write_text(json.dumps(notebook_json(SHOW)))
    launched = launch_run(notebook, tracking=False)
    launched.process.wait(timeout=RUN_TIMEOUT_S)
    return launched.run_id


def open_button(page, step: str):
    return page.locator(f'.liminal-step-row[data-step="{step}"] .liminal-open-executed')


def test_without_allow_hidden_a_read_only_viewer_shows_cells_and_untrusted_outputs(lab, page):
    run_id = run_show_notebook(lab)
    open_notebook(page, lab, "show.ipynb")
    page.wait_for_selector(f'.liminal-run-detail[data-run="{run_id}"][data-status="failed"]')
    assert open_button(page, "show").get_attribute("data-opens") == "viewer"

    open_button(page, "show").click()
    viewer = page.locator('.liminal-executed-viewer[data-step="show"]')
    outputs = viewer.locator(".liminal-executed-outputs")
    outputs.first.wait_for()
    assert app_eval(page, "app.shell.currentWidget.title.label") == f"show · {run_id}"
    assert viewer.get_attribute("data-run") == run_id
    # The step's code, highlighted by the editor's language support.
    source = viewer.locator(".liminal-executed-source", has_text="print('printed', shown)")
    assert source.locator("span").count() > 0
    # Markdown (the step notebook's own note, and a Markdown output) rendered as HTML
    # (markdown renders asynchronously: wait for it).
    viewer.locator(".liminal-executed-markdown code", has_text="imports").wait_for()
    outputs.locator("h2", has_text="rendered markdown output").wait_for()
    assert outputs.locator("h2 strong").inner_text() == "markdown"
    # HTML and images rendered; printed text; the HTML's script never ran (untrusted).
    assert outputs.locator("b", has_text="bold html").count() == 1
    image = outputs.locator("img")
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    assert "printed 3" in "\n".join(outputs.all_inner_texts())
    assert page.evaluate("() => window.liminalScriptRan") is None
    assert viewer.locator("script").count() == 0
    shoot(page, "executed-viewer-outputs")

    # The failed step: its error and traceback, the failed cell marked.
    open_button(page, "boom").click()
    boom = page.locator('.liminal-executed-viewer[data-step="boom"]')
    failed = boom.locator('.liminal-executed-cell[data-status="failed"]')
    failed.locator(".liminal-executed-outputs").wait_for()
    error_text = failed.inner_text()
    assert "ValueError" in error_text and "too small: 3" in error_text
    assert failed.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 1
    assert app_eval(page, "app.shell.currentWidget.title.label") == f"boom · {run_id}"
    shoot(page, "executed-viewer-error")

    # Opening a step again brings its tab back rather than a second copy.
    open_button(page, "show").click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.title.label.startsWith('show ·')"
    )
    assert page.locator('.liminal-executed-viewer[data-step="show"]').count() == 1
    assert page.locator(".liminal-title").inner_text() == "show"


def test_a_step_taken_from_the_cache_shows_the_notebook_of_the_run_that_ran_it(lab, page):
    first = run_show_notebook(lab)
    again = run_show_notebook(lab)  # `show` is unchanged: taken from the cache
    open_notebook(page, lab, "show.ipynb")
    page.wait_for_selector(f'.liminal-run-detail[data-run="{again}"]')
    page.wait_for_selector('.liminal-step-row[data-step="show"][data-status="cached"]')

    open_button(page, "show").click()
    viewer = page.locator('.liminal-executed-viewer[data-step="show"]')
    viewer.locator(".liminal-executed-outputs", has_text="printed 3").wait_for()
    assert viewer.get_attribute("data-run") == again
    assert app_eval(page, "app.shell.currentWidget.title.label") == f"show · {again}"
    assert first != again


def test_steps_that_swap_names_do_not_keep_the_colours_of_the_run(lab, page):
    """The DAG draws a run's states only on the pipeline that run ran: here the cells of
    `show` (succeeded) and `boom` (failed) swap names, so the old colours would land on
    the wrong steps."""
    run_id = run_show_notebook(lab)
    open_notebook(page, lab, "show.ipynb")
    page.wait_for_selector(f'.liminal-run-detail[data-run="{run_id}"]')
    page.wait_for_selector('.liminal-dag-node[data-step="boom"][data-status="failed"]')

    for index, role in ((1, "step:boom"), (2, "step:show")):
        app_eval(page, f"(app.shell.currentWidget.content.activeCellIndex = {index})")
        page.evaluate("role => window.jupyterapp.commands.execute('liminal:set-cell-role',"
                      " {role})", role)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_selector(".liminal-dag-stale")

    states = page.eval_on_selector_all(
        ".liminal-dag-node", "ns => ns.map(n => [n.dataset.step, n.dataset.status])")
    assert sorted(states) == [["boom", ""], ["show", ""]]
    assert "earlier version" in page.locator(".liminal-dag-stale").inner_text()
    # The run itself is still listed with its own steps and states.
    rows = page.eval_on_selector_all(
        ".liminal-step-row", "rs => rs.map(r => [r.dataset.step, r.dataset.status])")
    assert [step for step, _ in rows] == ["show", "boom"]
    assert rows[1][1] == "failed" and rows[0][1] in ("succeeded", "cached")
    shoot(page, "dag-after-swapping-step-names")


def test_report_opens_in_a_sandboxed_tab_with_the_failed_step_at_its_error(lab, page):
    run_id = run_show_notebook(lab)
    open_notebook(page, lab, "show.ipynb")
    page.wait_for_selector(f'.liminal-run-detail[data-run="{run_id}"][data-status="failed"]')

    page.locator(".liminal-run-report").click()

    frame = page.locator(".lm-DockPanel .liminal-report-frame")
    frame.wait_for()
    assert frame.get_attribute("sandbox") == ""
    assert app_eval(page, "app.shell.currentWidget.title.label").startswith("Report: show ")
    report = page.frame_locator(".lm-DockPanel .liminal-report-frame")
    boom = report.locator('details.step[open][id$="-boom"]')
    boom.locator(".error").wait_for()
    assert "ValueError: too small: 3" in boom.locator(".error").inner_text()
    assert report.locator('.liminal-dag-step[data-state="failed"]').count() == 1
    # The succeeded step is collapsed; its outputs are there, but not its script.
    show = report.locator('details.step[id$="-show"]')
    assert show.get_attribute("open") is None
    assert show.locator("b", has_text="bold html").count() == 1
    assert report.locator("script").count() == 0
    assert page.evaluate("() => window.liminalScriptRan") is None
    shoot(page, "run-report")
