"""Every route needs Jupyter's authentication (and XSRF for a browser's POST/DELETE), and
every notebook path stays inside the server's root dir. A real Jupyter server with the
extension enabled (pytest-jupyter), `allow_unauthenticated_access` off.
"""

from __future__ import annotations

import json
import os
from http.cookies import SimpleCookie

import pytest
from conftest import code

# pytest-jupyter's server fixtures, then ours (jp_server_config with the extension on).
pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

TINY = [code("n = 2", "parameters"), code("total = n * 2", "step:double")]

ROUTES = [
    ("GET", "pipeline"),
    ("GET", "runs"),
    ("POST", "runs"),
    ("GET", "runs/20261126-000000-abcd"),
    ("DELETE", "runs/20261126-000000-abcd"),
    ("GET", "runs/20261126-000000-abcd/report"),
    ("POST", "compile"),
    ("POST", "submit"),
    ("GET", "status"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
async def test_every_route_refuses_a_request_without_a_token(api, put_nb, method, route):
    put_nb(TINY)
    body = {"path": "nb.ipynb", "host": "http://127.0.0.1:9"} if method == "POST" else None

    status, reply = await api(method, *route.split("/"), params={"path": "nb.ipynb"},
                              body=body, headers={"Authorization": ""})

    assert status == 403, reply


@pytest.mark.parametrize(("method", "route"), ROUTES)
async def test_a_wrong_token_is_refused_too(api, put_nb, method, route):
    put_nb(TINY)
    body = {"path": "nb.ipynb"} if method == "POST" else None

    status, _ = await api(method, *route.split("/"), params={"path": "nb.ipynb"}, body=body,
                          headers={"Authorization": "token not-the-token"})

    assert status == 403


async def test_a_browser_post_needs_the_xsrf_token_besides_its_login_cookie(
    api, put_nb, jp_fetch
):
    """As JupyterLab in a browser: logged in by cookie, so POST/DELETE must carry _xsrf."""
    put_nb(TINY)
    first = await jp_fetch("liminal", "status")  # token-authenticated: sets the login cookie
    cookies = SimpleCookie()
    for header in first.headers.get_list("Set-Cookie"):
        cookies.load(header)
    assert any(name.startswith("username-") for name in cookies), cookies.keys()
    login = "; ".join(f"{k}={m.value}" for k, m in cookies.items() if k != "_xsrf")
    browser = {"Authorization": "", "Cookie": login}

    status, _ = await api("GET", "status", headers=browser)
    assert status == 200  # the cookie alone logs in

    for method, route in (("POST", ("runs",)), ("POST", ("compile",)),
                          ("DELETE", ("runs", "20261126-000000-abcd"))):
        body = {"path": "missing.ipynb"} if method == "POST" else None
        status, reply = await api(method, *route, params={"path": "nb.ipynb"}, body=body,
                                  headers=browser)
        assert status == 403, (method, route, reply)
        assert "xsrf" in json.dumps(reply).lower()

    xsrf = "2|abcd1234|0123456789abcdef0123456789abcdef|1700000000"
    with_xsrf = {**browser, "Cookie": f"{login}; _xsrf={xsrf}", "X-XSRFToken": xsrf}
    status, reply = await api("POST", "runs", body={"path": "missing.ipynb"},
                              headers=with_xsrf)
    assert status == 404, reply  # past authentication and XSRF, to the handler's own check
    status, reply = await api("DELETE", "runs", "20261126-000000-abcd",
                              params={"path": "nb.ipynb"}, headers=with_xsrf)
    assert status == 404, reply


@pytest.mark.parametrize("path", [
    "../outside.ipynb",
    "sub/../../outside.ipynb",
    "sub/../nb.ipynb",  # harmless, but '..' is refused outright
])
async def test_dot_dot_is_refused(api, put_nb, jp_root_dir, path):
    put_nb(TINY)
    put_nb(TINY, "sub/x.ipynb")
    (jp_root_dir.parent / "outside.ipynb").write_text(json.dumps({"cells": []}))

    status, reply = await api("GET", "pipeline", params={"path": path})

    assert status == 403
    assert "'..'" in reply["message"]


async def test_absolute_paths_are_refused_even_inside_the_root(api, put_nb):
    inside = put_nb(TINY)

    for path in (str(inside), "/etc/passwd", "C:/nb.ipynb"):
        status, reply = await api("GET", "pipeline", params={"path": path})
        assert status == 403, (path, reply)
        assert "absolute" in reply["message"]


async def test_a_symlink_out_of_the_root_is_refused_and_one_inside_is_followed(
    api, put_nb, jp_root_dir
):
    outside = jp_root_dir.parent / "secret"
    outside.mkdir()
    (outside / "x.ipynb").write_text("{}")
    os.symlink(outside / "x.ipynb", jp_root_dir / "link_out.ipynb")
    os.symlink(outside, jp_root_dir / "dir_out")
    put_nb(TINY, "real/nb.ipynb")
    os.symlink(jp_root_dir / "real", jp_root_dir / "alias")

    for path in ("link_out.ipynb", "dir_out/x.ipynb"):
        status, reply = await api("GET", "pipeline", params={"path": path})
        assert status == 403, (path, reply)
        assert "outside" in reply["message"]
    status, reply = await api("GET", "pipeline", params={"path": "alias/nb.ipynb"})
    assert status == 200 and reply["valid"], reply


@pytest.mark.parametrize(("method", "route"), [
    ("GET", "pipeline"), ("GET", "runs"), ("POST", "runs"),
    ("GET", "runs/20261126-000000-abcd"), ("DELETE", "runs/20261126-000000-abcd"),
    ("POST", "compile"), ("POST", "submit"),
])
async def test_every_route_with_a_path_confines_it(api, put_nb, method, route):
    put_nb(TINY)
    escape = "../../etc/passwd.ipynb"
    body = {"path": escape, "host": "http://127.0.0.1:9"} if method == "POST" else None

    status, reply = await api(method, *route.split("/"), params={"path": escape}, body=body)

    assert status == 403, reply


async def test_missing_notebook_404_and_not_a_notebook_400(api, put_nb, jp_root_dir):
    (jp_root_dir / "notes.txt").write_text("hello")

    status, reply = await api("GET", "pipeline", params={"path": "nope.ipynb"})
    assert status == 404 and "nope.ipynb" in reply["message"]
    status, reply = await api("GET", "pipeline", params={"path": "notes.txt"})
    assert status == 400 and "not a notebook" in reply["message"]
    status, reply = await api("GET", "pipeline")
    assert status == 400 and "path" in reply["message"]


async def test_hidden_notebooks_are_hidden_as_the_contents_api_hides_them(
    api, put_nb, jp_serverapp
):
    put_nb(TINY, ".private/nb.ipynb")
    put_nb(TINY, ".dotted.ipynb")

    for path in (".private/nb.ipynb", ".dotted.ipynb"):
        status, reply = await api("GET", "pipeline", params={"path": path})
        assert status == 404, (path, reply)

    jp_serverapp.contents_manager.allow_hidden = True
    status, reply = await api("GET", "pipeline", params={"path": ".private/nb.ipynb"})
    assert status == 200 and reply["valid"]
    status, reply = await api("GET", "status")
    assert reply["allow_hidden"] is True
