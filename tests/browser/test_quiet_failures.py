"""What the panel does when something it talks to is not there: a quiet status line or a
message in the panel, never a dialog. Real JupyterLab, real chromium; the unreachable KFP
host is a closed loopback port (no cluster can run here)."""

from __future__ import annotations

import socket

from tests.browser.lab import dialogs, open_notebook, put_example, shoot, shoot_panel

pytest_plugins = ("tests.browser.browser_setup",)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_the_server_extension_the_panel_says_so_quietly(
    lab_without_server_extension, page
):
    lab = lab_without_server_extension
    open_notebook(page, lab, put_example(lab))
    status = page.locator(".liminal-status-line")
    status.wait_for()
    assert "server extension is not enabled" in status.inner_text()
    # The notebook itself is untouched and usable; no pop-up covers it.
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length == 18")
    assert dialogs(page) == 0
    shoot(page, "no-server-extension")


def test_an_unreachable_kfp_host_is_a_message_in_the_panel(lab, page):
    host = f"http://127.0.0.1:{closed_port()}"
    lab.set_panel_settings({"kfpHost": host})
    try:
        open_notebook(page, lab, put_example(lab))
        submit = page.locator("button.liminal-submit")
        page.wait_for_selector('.liminal-dag-node[data-step="validate"]')
        page.wait_for_function(
            "() => !document.querySelector('button.liminal-submit').disabled"
        )
        assert host in submit.get_attribute("title")
        submit.click()
        message = page.locator(".liminal-action-error")
        message.wait_for()
        assert message.inner_text().startswith("Not submitted:")
        assert dialogs(page) == 0
        shoot_panel(page, "kfp-unreachable")
    finally:
        lab.set_panel_settings({})
