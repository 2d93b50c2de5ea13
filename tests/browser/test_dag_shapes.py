"""The DAG stays readable at any size (issue 17): three shapes drawn in the panel of a real
JupyterLab in Debian's chromium, and the pipeline opened in a main-area tab.

Readable means: every step name is drawn at 11 px or more on screen (the computed font
size, times any scale the drawing is shown at), a name cut to fit its node has its full
text in a tooltip, and a graph wider than the panel scrolls instead of shrinking.
"""

from __future__ import annotations

import json

from tests.browser.lab import RUN_TIMEOUT_MS, app_eval, open_notebook, shoot, shoot_panel

pytest_plugins = ("tests.browser.browser_setup",)

MODELS = ["model_linear", "model_forest", "model_boosting", "model_svm", "model_knn"]
LONG_NAME = "datapreprocessing_and_cleaning"


def notebook(steps: list[tuple[str, str]]) -> dict:
    """A notebook of one code cell per step, tagged `step:NAME`; the variables the cells
    assign and read make the edges."""
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
              "metadata": {"tags": [f"step:{name}"]}, "outputs": [], "source": source}
             for i, (name, source) in enumerate(steps)]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3",
            "display_name": "Python 3", "language": "python"}}, "nbformat": 4,
            "nbformat_minor": 5}


def fan_out_fan_in() -> list[tuple[str, str]]:
    """The issue's notebook: a chain of three, five model steps in parallel, a join."""
    return [
        ("load_raw_data", "raw = list(range(10))"),
        (LONG_NAME, "clean = [x * 2 for x in raw]"),
        ("features", "X_train, y_train = clean[:5], clean[5:]"),
        *[(m, f"score_{m} = len(X_train) + len(y_train) + {i}") for i, m in enumerate(MODELS)],
        ("join", "best = max([" + ", ".join(f"score_{m}" for m in MODELS) + "])"),
    ]


def chain(n: int) -> list[tuple[str, str]]:
    return [("step_01", "v_01 = 1")] + [
        (f"step_{i:02d}", f"v_{i:02d} = v_{i - 1:02d} + 1") for i in range(2, n + 1)]


def fan_out(width: int) -> list[tuple[str, str]]:
    return [("source", "base = 1")] + [
        (f"branch_{i:02d}", f"out_{i:02d} = base * {i}") for i in range(1, width + 1)]


def put(lab, name: str, steps: list[tuple[str, str]]) -> str:
    (lab.root / name).write_text(json.dumps(notebook(steps)))
    return name


# Every step label as drawn: its font size, the scale it is shown at (rendered width over
# layout width of its node), whether its text is cut, and the node's tooltip.
LABELS_JS = """root => Array.from(root.querySelectorAll('.liminal-dag-node')).map(node => {
  const name = node.querySelector('.liminal-dag-node-name');
  return {
    step: node.dataset.step,
    text: name.textContent,
    font: parseFloat(getComputedStyle(name).fontSize),
    scale: node.getBoundingClientRect().width / node.offsetWidth,
    clipped: name.scrollWidth > name.clientWidth,
    title: node.getAttribute('title') || '',
  };
})"""

EDGE_LABELS_JS = """root => Array.from(root.querySelectorAll('.liminal-dag-edge-label')).map(t => ({
  font: parseFloat(getComputedStyle(t).fontSize),
  height: t.getBoundingClientRect().height,
}))"""


def assert_readable(page, names: list[str]) -> list[dict]:
    panel = page.locator(".liminal-panel .liminal-dag")
    for name in names:
        page.wait_for_selector(f'.liminal-panel .liminal-dag-node[data-step="{name}"]')
    labels = panel.evaluate(LABELS_JS)
    assert sorted(label["step"] for label in labels) == sorted(names)
    for label in labels:
        assert label["font"] * label["scale"] >= 11, label
        assert label["text"] == label["step"]
        if label["clipped"]:
            assert label["step"] in label["title"], label
    edge_labels = panel.evaluate(EDGE_LABELS_JS)
    assert edge_labels, "no edge labels drawn"
    for edge in edge_labels:
        assert edge["font"] >= 11 and edge["height"] >= 11, edge
    return labels


def in_view(page, step: str) -> bool:
    """Whether the step's node lies wholly within the panel's visible DAG."""
    return page.locator(".liminal-panel .liminal-dag-scroll").evaluate(
        """(s, step) => { const v = s.getBoundingClientRect();
        const r = s.querySelector(`.liminal-dag-node[data-step="${step}"]`).getBoundingClientRect();
        return r.left >= v.left - 1 && r.right <= v.right + 1; }""", step)


def fits(tab, count: int) -> bool:
    """Whether every node and edge label of the main-area tab lies within its view."""
    canvas = tab.locator(".liminal-dag-main-canvas").bounding_box()
    boxes = tab.locator(".liminal-dag-node, .liminal-dag-edge-label").evaluate_all(
        "ns => ns.map(n => { const r = n.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })")
    assert len(boxes) > count
    return all(
        canvas["x"] - 1 <= left and right <= canvas["x"] + canvas["width"] + 1
        and canvas["y"] - 1 <= top and bottom <= canvas["y"] + canvas["height"] + 1
        for left, top, right, bottom in boxes)


def scrolls_sideways(page) -> bool:
    return page.locator(".liminal-panel .liminal-dag-scroll").evaluate(
        "s => s.scrollWidth > s.clientWidth + 1")


def test_nine_step_fan_out_fan_in_is_readable_and_clicks_select_cells(lab, page):
    steps = fan_out_fan_in()
    path = put(lab, "fan.ipynb", steps)
    open_notebook(page, lab, path)
    labels = assert_readable(page, [name for name, _ in steps])
    # The long name is cut to fit its node, and its tooltip has it whole.
    long = next(label for label in labels if label["step"] == LONG_NAME)
    assert long["clipped"] and LONG_NAME in long["title"]
    # Five models side by side are wider than the panel: it scrolls, the text keeps its size.
    assert scrolls_sideways(page)
    tops = page.eval_on_selector_all(
        ".liminal-panel .liminal-dag-node",
        "ns => Object.fromEntries(ns.map(n => [n.dataset.step, n.getBoundingClientRect().top]))")
    assert len({round(tops[m]) for m in MODELS}) == 1
    assert tops["features"] < tops[MODELS[0]] < tops["join"]
    # Scrolled to its right end, the panel shows the steps that were beyond its edge.
    assert not in_view(page, "model_knn")
    assert "scroll sideways" in page.locator(".liminal-dag-wide").inner_text()
    page.locator(".liminal-panel .liminal-dag-scroll").evaluate(
        "s => { s.scrollLeft = s.scrollWidth; }")
    assert in_view(page, "model_knn")
    shoot_panel(page, "dag-nine-steps-panel")

    # Clicking a step in the panel selects its (first) cell in the notebook.
    page.locator('.liminal-panel .liminal-dag-node[data-step="features"]').click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex === 2")

    # "Open the pipeline": a main-area tab (split beside the notebook) whose graph is
    # fitted to its view as far as text stays at 11 px; here five models side by side are
    # wider than half the main area, so it is drawn at that size and panned.
    page.click(".liminal-open-pipeline")
    tab = page.locator(".liminal-pipeline-tab")
    tab.locator('.liminal-dag-node[data-step="join"]').wait_for()
    page.wait_for_timeout(500)  # the fit runs once React Flow has measured its view
    fitted = readable_in_tab(tab, len(steps))
    # Its controls: zoom in (the text grows), fit to view (back to the fitted size).
    for _ in range(3):
        tab.locator(".react-flow__controls-zoomin").click()
    page.wait_for_timeout(400)
    assert readable_in_tab(tab, len(steps), fitted=False) > fitted * 1.2
    tab.locator(".liminal-dag-fit").click()
    page.wait_for_timeout(400)
    assert abs(readable_in_tab(tab, len(steps)) - fitted) < 0.01
    # Zooming out stops at the readable size (React Flow then disables its button).
    zoom_out_fully(page, tab)
    assert readable_in_tab(tab, len(steps), fitted=False) >= fitted - 0.01
    shoot(page, "dag-nine-steps-main-area")

    # Clicking a step there selects its first cell in the notebook.
    tab.locator('.liminal-dag-node[data-step="join"]').click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content?.activeCellIndex === 8")
    assert app_eval(page, "app.shell.currentWidget.context.path") == path

    # A run colours the tab's graph live, step by step, as it does the panel's.
    page.click("button.liminal-run")
    page.wait_for_function(
        "n => document.querySelectorAll('.liminal-pipeline-tab"
        " .liminal-dag-node[data-status=\"succeeded\"]').length === n",
        arg=len(steps), timeout=RUN_TIMEOUT_MS)
    # The picture of the README (docs/pipeline-tab.png).
    shoot(page, "dag-nine-steps-run")


# WCAG contrast ratios: each step name against its node's background, each edge label
# (SVG text: its fill) against the tab's background.
CONTRAST_JS = """root => {
  const rgb = text => (text.match(/[0-9.]+/g) || []).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05); };
  const tab = root.closest('.liminal-pipeline-tab');
  const names = Array.from(root.querySelectorAll('.liminal-dag-node')).map(node => ratio(
    getComputedStyle(node.querySelector('.liminal-dag-node-name')).color,
    getComputedStyle(node).backgroundColor));
  const edges = Array.from(root.querySelectorAll('.liminal-dag-edge-label')).map(t => ratio(
    getComputedStyle(t).fill, getComputedStyle(tab).backgroundColor));
  return [names, edges];
}"""


def readable_in_tab(tab, count: int, fitted: bool = True) -> float:
    """Asserts every label of the main-area tab is drawn at 11 px or more, and (`fitted`)
    that the graph fits the view unless that would take it below; returns the scale it is
    shown at."""
    labels, edges = tab_labels(tab)
    assert len(labels) == count and edges
    for label in labels:
        assert label["font"] * label["scale"] >= 11 - 0.01, label
    for edge in edges:
        assert edge["height"] >= 11, edge
    scale = min(label["scale"] for label in labels)
    if fitted:  # the whole graph, or shrunk no further than 11 px
        assert fits(tab, count) or abs(scale - 1) < 0.01, scale
    return scale


def zoom_out_fully(page, tab) -> None:
    """Click React Flow's zoom-out until it is disabled (its minimum zoom)."""
    button = tab.locator(".react-flow__controls-zoomout")
    for _ in range(20):
        if button.is_disabled():
            return
        button.click()
        page.wait_for_timeout(150)
    raise AssertionError("zoom out never stopped")


def tab_labels(tab) -> tuple[list[dict], list[dict]]:
    """The main-area tab's step labels and edge labels as drawn (LABELS_JS, EDGE_LABELS_JS)."""
    graph = tab.locator(".liminal-dag").first
    return graph.evaluate(LABELS_JS), graph.evaluate(EDGE_LABELS_JS)


def test_thirty_step_chain_is_readable(lab, page):
    steps = chain(30)
    open_notebook(page, lab, put(lab, "chain.ipynb", steps))
    assert_readable(page, [name for name, _ in steps])
    assert not scrolls_sideways(page)
    shoot_panel(page, "dag-thirty-step-chain")

    # The main-area tab: fit to view stops where text is still 11 px (the chain is taller
    # than the view, so its first steps are shown and the rest is a pan away), and zooming
    # out stops there too.
    page.click(".liminal-open-pipeline")
    tab = page.locator(".liminal-pipeline-tab")
    tab.locator('.liminal-dag-node[data-step="step_30"]').wait_for(state="attached")
    page.wait_for_timeout(500)  # the fit runs once React Flow has measured its view
    for action in ("fit", "zoomout"):
        if action == "fit":
            tab.locator(".liminal-dag-fit").click()
        else:
            zoom_out_fully(page, tab)
        page.wait_for_timeout(400)
        labels, edges = tab_labels(tab)
        assert len(labels) == 30 and edges
        for label in labels:
            assert label["font"] * label["scale"] >= 11 - 0.01, (action, label)
        for edge in edges:
            assert edge["height"] >= 11, (action, edge)
        assert not fits(tab, len(steps))  # it is panned, not shrunk
        box = tab.locator(".liminal-dag-main-canvas").bounding_box()
        first = tab.locator('.liminal-dag-node[data-step="step_01"]').bounding_box()
        assert box["y"] <= first["y"] and first["y"] + first["height"] <= box["y"] + box["height"]
    shoot(page, "dag-thirty-step-chain-main-area")

    # In JupyterLab's dark theme the labels stay readable: WCAG contrast of each step name
    # on its node and of each edge label on the tab's background (AA: 4.5 for small text).
    app_eval(page, "app.commands.execute('apputils:change-theme', "
                   "{theme: 'JupyterLab Dark'})")
    try:
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000)
        page.wait_for_timeout(500)
        names, edge_labels = tab.locator(".liminal-dag").first.evaluate(CONTRAST_JS)
        assert names and edge_labels
        assert min(names) >= 4.5, names
        assert min(edge_labels) >= 4.5, edge_labels
        shoot(page, "dag-thirty-step-chain-dark")
    finally:
        app_eval(page, "app.commands.execute('apputils:change-theme', "
                       "{theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'",
                               timeout=30_000)


def test_twelve_wide_fan_out_is_readable_and_scrolls(lab, page):
    steps = fan_out(12)
    open_notebook(page, lab, put(lab, "wide.ipynb", steps))
    assert_readable(page, [name for name, _ in steps])
    assert scrolls_sideways(page)
    shoot_panel(page, "dag-twelve-wide")
