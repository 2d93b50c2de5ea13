"""The live run view, driven in Python: its widget models follow a real run as it goes.

No browser: the widgets' values are what ipywidgets sends to one. Runs are real (the local
runner in a child process, real kernels); the notebooks are tiny, tracking is off.
"""

from __future__ import annotations

import os
import signal
import time

from conftest import code

from liminal_jupyter import Pipeline
from liminal_jupyter.widgets import RunView
from liminal_jupyter.widgets.style import STEP_STATE_COLOURS

CHAIN = [
    code("import time", "imports"),
    code("pause = 1.0", "parameters"),
    code("time.sleep(pause)\nrows = [1, 2, 3]", "step:load"),
    code("total = sum(rows)", "step:add"),
    code("total", "metrics"),
]

FAILING = [
    code("x = 1", "step:ok"),
    code("print('about to fail')\nraise ValueError('no good')\ny = x", "step:bad"),
    code("z = y", "step:after"),
]

SLOW = [
    code("import time", "imports"),
    code("print('sleeping', flush=True)\ntime.sleep(600)\nfinish = 1", "step:wait"),
]


def stop_runner(run) -> None:
    """Leave no runner behind if the test failed before the run ended (a 600 s sleep)."""
    if run._process is not None and run._process.poll() is None:
        os.killpg(run._process.pid, signal.SIGKILL)
        run._process.wait()


def eventually(check, timeout: float = 180.0, what: str = "the view to update") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_the_view_follows_a_run_from_its_own_thread_until_every_step_succeeded(write_nb):
    run = Pipeline.from_notebook(write_nb(CHAIN)).run(wait=False, show=False, tracking=False)
    view = RunView(run, poll_interval=0.2)
    seen: list[str] = [view.state_labels["add"].value]
    view.state_labels["add"].observe(lambda change: seen.append(change["new"]), "value")

    eventually(lambda: view.status == "succeeded")  # nobody calls refresh(): the thread does

    assert seen[0] != "succeeded" and seen[-1] == "succeeded"
    assert {s: label.value for s, label in view.state_labels.items()} == {
        "load": "succeeded", "add": "succeeded"}
    assert view.state_labels["load"].style.text_color == STEP_STATE_COLOURS["succeeded"]
    assert view.duration_labels["load"].value.endswith(" s")
    assert float(view.duration_labels["load"].value.split()[0]) >= 1.0  # it slept 1 s
    assert "total" in view.metrics.value and "<b>6</b>" in view.metrics.value
    assert run.run_id in view.title.value
    assert view.cancel_button.disabled and view.failure.value == ""
    view.join(timeout=30)
    assert not view._thread.is_alive()


def test_a_failed_step_shows_red_with_its_error_and_the_tail_of_its_log(write_nb):
    run = Pipeline.from_notebook(write_nb(FAILING)).run(wait=False, show=False,
                                                         tracking=False)
    view = run.view()

    run.wait(timeout=180)  # wait() ends with a last draw of every view of the run

    assert view.status == "failed"
    states = {s: label.value for s, label in view.state_labels.items()}
    assert states == {"ok": "succeeded", "bad": "failed", "after": "skipped"}
    assert view.state_labels["bad"].style.text_color == STEP_STATE_COLOURS["failed"]
    assert "step bad failed" in view.failure.value
    assert "ValueError" in view.failure.value and "no good" in view.failure.value
    assert "about to fail" in view.failure.value  # the log tail
    assert "\x1b[" not in view.failure.value


def test_the_cancel_button_stops_the_run(write_nb):
    run = Pipeline.from_notebook(write_nb(SLOW)).run(wait=False, show=False, tracking=False)
    try:
        view = run.view()
        # Cancel once the step's code runs, not while its kernel is handed out: a cancel
        # in that moment can leave the runner waiting in KernelPool.acquire (reported).
        eventually(lambda: "sleeping" in run.log("wait"), what="the step's code to run")
        assert view.state_labels["wait"].value == "running"

        view.cancel_button.click()

        eventually(lambda: view.status == "cancelled", what="the run to be cancelled")
        assert view.cancel_button.disabled
        assert view.state_labels["wait"].value != "running"
    finally:
        stop_runner(run)


def test_a_finished_run_is_drawn_once_without_a_thread(write_nb):
    run = Pipeline.from_notebook(write_nb(CHAIN)).run({"pause": 0.0}, tracking=False)

    view = run.view()

    assert view.status == "succeeded" and view._thread is None


def test_the_view_embeds_as_html_with_its_state(write_nb, tmp_path):
    """What a notebook saved with widget state shows: the models' values, serialised."""
    from ipywidgets.embed import embed_minimal_html

    run = Pipeline.from_notebook(write_nb(CHAIN)).run({"pause": 0.0}, tracking=False)
    page = tmp_path / "view.html"

    embed_minimal_html(page, views=[run.view()], title="run")

    text = page.read_text()
    assert "liminal-run-view" in text and "liminal-step-state" in text
    assert text.count('"value": "succeeded"') >= 3  # the run's status and both steps
