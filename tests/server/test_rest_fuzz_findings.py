"""What the REST API request fuzzer found (issue 20), each fixed and kept fixed: one test
per finding, named after it. The fuzzer is tests/server/test_rest_fuzz.py (quick) and
stress/fuzz_rest.py (long).

A real Jupyter server with the extension, started once for this module (tests/server/
live_server.py), over a root with notebooks and files of other kinds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from liminal_jupyter.runs.launch import LaunchError, launch_run, run_store_for
from tests.server.live_server import DROPPED, HEAD_LIMIT, LiveServer, live_server
from tests.server.rest_strategies import Deep, build_root, encode

LONG_NAME = "a" * 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("rest-findings")
    root = base / "root"
    root.mkdir()
    build_root(root, base / "outside")
    with live_server(base, root) as running:
        yield running


def call(server: LiveServer, method: str, target: str, body: object = None,
         headers: dict | None = None) -> tuple[int, dict]:
    """(status, JSON reply), asserting the error contract: a 4xx error is JSON with a
    message of one readable paragraph, and no traceback."""
    data = body if body is None or isinstance(body, bytes) else encode(body)
    reply = server.request(method, target, data, headers)
    assert reply.status < 500, (target, reply.status, reply.text[:2000])
    assert reply.headers.get("content-type", "").startswith("application/json"), (
        target, reply.status, reply.headers.get("content-type"), reply.text[:500])
    parsed = reply.json()
    if reply.status >= 400:
        assert isinstance(parsed.get("message"), str) and parsed["message"].strip(), parsed
        assert len(parsed["message"]) < 1000, parsed["message"][:300]
        assert "Traceback" not in reply.text and "traceback" not in parsed
    return reply.status, parsed


def test_a_10000_character_parameter_name_is_an_unknown_parameter_not_a_yaml_error(server):
    status, reply = call(server, "POST", "/liminal/runs",
                         {"path": "nb.ipynb", "parameters": {LONG_NAME: 1}})

    assert status == 400
    assert "no such parameter" in reply["message"] and "parameters are n" in reply["message"]
    assert "yaml" not in reply["message"].lower() and "scan" not in reply["message"]
    assert not run_store_for(server.root / "nb.ipynb").db_path.exists()  # nothing started


def test_a_10000_character_parameter_name_given_to_the_runner_is_an_unknown_parameter(server):
    """The root of that finding: the runner read its JSON params file as YAML, whose keys
    stop at 1024 characters. The Python API hands names to the runner the same way."""
    with pytest.raises(LaunchError) as raised:
        launch_run(server.root / "sub" / "deeper.ipynb", {LONG_NAME: 1}, tracking=False)

    message = str(raised.value)
    assert "no such parameter" in message and "YAML" not in message, message[:500]
    assert "(10000 characters)" in message  # the name is shortened in the message


def test_a_parameter_of_the_wrong_type_is_refused_before_a_runner_starts(server):
    status, reply = call(server, "POST", "/liminal/runs",
                         {"path": "nb.ipynb", "parameters": {"n": "many"}})

    assert status == 400 and "parameter n='many': expected a whole number" in reply["message"]
    assert not run_store_for(server.root / "nb.ipynb").db_path.exists()


@pytest.mark.parametrize("route", ["runs", "compile", "submit", "models/serve",
                                   "models/monitor"])
def test_a_body_nested_thousands_deep_is_a_400_not_a_recursion_error(server, route):
    for body in (Deep(100_000).text().encode(),
                 encode({"path": "nb.ipynb", "name": "m", "image": Deep(5_000)})):
        status, reply = call(server, "POST", f"/liminal/{route}", body)

        assert status == 400 and "nested too deeply" in reply["message"], reply


@pytest.mark.parametrize(("route", "field"), [("runs", "path"), ("compile", "path"),
                                              ("compile", "image"), ("models/monitor", "data")])
def test_a_lone_surrogate_escape_in_the_body_is_a_400(server, route, field):
    body = {"path": "nb.ipynb", "name": "m", "data": "data.csv", "tracking_uri": "sqlite:///x"}
    body[field] = "\ud800.ipynb"

    status, reply = call(server, "POST", f"/liminal/{route}", body)

    assert status == 400 and "not valid Unicode" in reply["message"], reply


def test_a_path_too_long_for_the_file_system_is_a_400(server):
    name = "a" * 300 + ".ipynb"
    deep = "/".join(["d" * 200] * 30) + "/nb.ipynb"
    for target, body in [
        (f"/liminal/pipeline?path={name}", None),
        (f"/liminal/runs?path={deep}", None),
        ("/liminal/compile", {"path": name}),
        ("/liminal/submit", {"path": deep, "host": "http://127.0.0.1:9"}),
        ("/liminal/models/monitor", {"name": "m", "tracking_uri": "sqlite:///x.db",
                                     "data": "a" * 300 + ".csv"}),
        ("/liminal/models/report?path=.liminal/reports/" + "r" * 300 + ".html", None),
    ]:
        status, reply = call(server, "POST" if body else "GET", target, body)

        assert status == 400 and "too long" in reply["message"], (target, reply)


def test_a_nul_character_in_a_path_is_a_400(server):
    for route, body in [("compile", {"path": "nb\x00.ipynb"}),
                        ("models/monitor", {"name": "m", "tracking_uri": "sqlite:///x.db",
                                            "data": "data\x00.csv"})]:
        status, reply = call(server, "POST", f"/liminal/{route}", body)

        assert status == 400 and "NUL" in reply["message"], reply


def test_a_limit_written_with_a_superscript_digit_is_a_400(server):
    """'²'.isdigit() is true, but int('²') raises: the check took it for a number."""
    for limit in ("%C2%B2", "%D9%A3", "12345"):
        status, reply = call(server, "GET", f"/liminal/runs?path=nb.ipynb&limit={limit}")

        assert status == 400 and "'limit' must be a whole number" in reply["message"]


@pytest.mark.parametrize(("method", "target"), [
    ("GET", "/liminal/nothing-here"),
    ("GET", "/liminal/runs/..%2F..%2Fx/report?path=nb.ipynb"),
    ("GET", "/liminal/runs/x/steps/a/b/notebook?path=nb.ipynb"),
    ("GET", "/liminal/%ED%A0%80"),  # not UTF-8: Jupyter's HTML 404 page failed on it
    ("DELETE", "/liminal/models/served/"),  # was Jupyter's HTML 403 (no XSRF token)
    ("GET", "/liminal/runs/"),  # was a redirect
    ("POST", "/liminal/runs/x/y"),
    ("GET", "/liminal"),
])
def test_any_other_path_under_liminal_is_a_json_404_not_an_html_page(server, method, target):
    status, reply = call(server, method, target, b"{}" if method == "POST" else None)

    assert status == 404 and reply["message"].startswith("no route"), reply


def test_the_json_404_still_needs_the_token(server):
    reply = server.request("GET", "/liminal/nothing-here", headers={"Authorization": ""})

    assert reply.status == 403


def test_a_5000_character_run_id_or_step_is_shortened_in_the_message(server):
    run_id, step = "r" * 5000, "s" * 4999 + "!"
    for target in (f"/liminal/runs/{run_id}?path=nb.ipynb",
                   f"/liminal/runs/x/steps/{step}/notebook?path=nb.ipynb",
                   f"/liminal/models/served/{'f' * 5000}"):
        status, reply = call(server, "GET" if "served" not in target else "DELETE", target)

        assert status in (400, 404) and "(5000 characters)" in reply["message"], reply


def test_the_runner_reads_a_json_params_file_as_json(tmp_path):
    """JSON's 1e3 is the number 1000.0; PyYAML took it for the string '1e3'."""
    from liminal_jupyter.params import read_params_file

    path = tmp_path / "params.json"
    path.write_text('{"' + LONG_NAME + '": 1, "x": 1e3}')

    assert read_params_file(path) == {LONG_NAME: 1, "x": 1000.0}


def test_a_request_head_over_64_kib_is_dropped_by_tornado_and_one_under_is_answered(server):
    """The one exception to the error contract (docs/rest-api.md): tornado reads at most
    64 KiB of request line and headers, and closes the connection on a longer head before
    any handler runs. Just under it, the handler answers as usual."""
    under = "/liminal/runs?path=" + "a" * (HEAD_LIMIT - 2048) + ".ipynb"
    over = "/liminal/runs?path=" + "a" * HEAD_LIMIT + ".ipynb"

    status, reply = call(server, "GET", under)
    assert status == 400 and "too long" in reply["message"]
    assert server.request("GET", over).status == DROPPED
    assert call(server, "GET", "/liminal/status")[0] == 200  # the server carries on
