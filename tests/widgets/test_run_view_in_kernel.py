"""In a real kernel, `run()` shows the live view, returns at once, and the view's updates
reach the front end as comm messages sent while the kernel is idle, so they come from the
view's own thread, not from a cell still running. The kernel answers meanwhile.

The test plays the front end: it reads the kernel's iopub channel with jupyter_client.
"""

from __future__ import annotations

import queue
import time

from conftest import code

CELLS = [
    code("import time", "imports"),
    code("time.sleep(2)\nrows = [1, 2]", "step:load"),
    code("total = sum(rows)", "step:add"),
]

START = """\
from liminal_jupyter import Pipeline
run = Pipeline.from_notebook("nb.ipynb").run(tracking=False)
"""


def test_the_view_updates_arrive_from_the_kernel_while_it_is_idle(write_nb):
    from jupyter_client.manager import start_new_kernel

    notebook = write_nb(CELLS)
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(notebook.parent))
    during: list[dict] = []  # iopub messages while a cell runs
    after: list[dict] = []  # iopub messages once the kernel is idle again
    try:
        reply = client.execute_interactive(START, timeout=180, output_hook=during.append)
        assert reply["content"]["status"] == "ok"
        answer = client.execute_interactive("1 + 1", timeout=60, output_hook=during.append)
        assert answer["content"]["status"] == "ok"  # the kernel is free for other cells
        labels = _step_state_comms(during)
        deadline = time.monotonic() + 180
        while not labels <= _updated_to(after, "succeeded") and time.monotonic() < deadline:
            try:
                after.append(client.get_iopub_msg(timeout=1))
            except queue.Empty:
                pass
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    assert any(m["msg_type"] == "display_data" and "application/vnd.jupyter.widget-view+json"
               in m["content"]["data"] for m in during), "run() displayed no widget"
    assert len(labels) == 2, "one state label per step"
    assert not labels & _updated_to(during, "succeeded")  # nothing had finished yet
    assert labels <= _updated_to(after, "succeeded"), "the labels never said 'succeeded'"


def _step_state_comms(messages: list[dict]) -> set[str]:
    """The comm ids of the step-state labels the kernel opened."""
    return {m["content"]["comm_id"] for m in messages if m["msg_type"] == "comm_open"
            and "liminal-step-state" in m["content"]["data"]["state"].get("_dom_classes", [])}


def _updated_to(messages: list[dict], value: str) -> set[str]:
    """The comm ids that received an update setting `value`."""
    return {m["content"]["comm_id"] for m in messages if m["msg_type"] == "comm_msg"
            and m["content"]["data"].get("method") == "update"
            and m["content"]["data"].get("state", {}).get("value") == value}
