"""GET /liminal/pipeline: the inspect IR with its errors and warnings, parsed (never run)
by a real Jupyter server with the extension."""

from __future__ import annotations

import json

from conftest import code

from liminal_jupyter.cli import main as cli_main

# pytest-jupyter's server fixtures, then ours (jp_server_config with the extension on).
pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.server.server_setup")

TWO_STEPS = [
    code("n = 3  # how many rows", "parameters"),
    code("rows = list(range(n))", "step:load"),
    code("total = sum(rows)", "step:add"),
    code("total", "metrics"),
]


async def test_the_pipeline_is_exactly_what_inspect_json_prints(api, put_nb, jp_root_dir,
                                                                capsys, monkeypatch):
    put_nb(TWO_STEPS, "project/two.ipynb")

    status, reply = await api("GET", "pipeline", params={"path": "project/two.ipynb"})

    assert status == 200
    assert reply["path"] == "project/two.ipynb" and reply["valid"] is True
    assert reply["errors"] == [] and reply["warnings"] == reply["pipeline"]["warnings"]
    monkeypatch.chdir(jp_root_dir)
    assert cli_main(["inspect", "project/two.ipynb", "--json"]) == 0
    assert reply["pipeline"] == json.loads(capsys.readouterr().out)
    steps = {s["name"]: s for s in reply["pipeline"]["steps"]}
    assert list(steps) == ["load", "add"]
    assert steps["add"]["inputs"][0]["producer"] == "load"
    assert reply["pipeline"]["edges"] == [
        {"source": "load", "target": "add", "kind": "data", "variables": ["rows"], "files": []}]
    assert reply["pipeline"]["parameters"][0]["name"] == "n"


async def test_a_bad_notebook_is_200_with_the_inspect_errors(api, put_nb):
    put_nb([code("x = 1", "step:a"), code("y = x + undefined_thing", "step:b")], "bad.ipynb")

    status, reply = await api("GET", "pipeline", params={"path": "bad.ipynb"})

    assert status == 200 and reply["valid"] is False
    assert reply["pipeline"] is not None  # the partial IR, so the panel can still draw it
    [error] = reply["errors"]
    assert error["severity"] == "error" and error["step"] == "b"
    assert (error["notebook"], error["cell_index"], error["cell_id"], error["line"]) == (
        "bad.ipynb", 1, "c1", 1)
    assert "undefined_thing" in error["message"]
    assert set(error) == {"severity", "code", "message", "notebook", "cell_index",
                          "cell_id", "line", "step"}


async def test_a_file_that_is_not_a_notebook_has_no_pipeline_only_its_error(api, jp_root_dir):
    (jp_root_dir / "broken.ipynb").write_text("{ this is not json")

    status, reply = await api("GET", "pipeline", params={"path": "broken.ipynb"})

    assert status == 200
    assert reply["valid"] is False and reply["pipeline"] is None
    assert reply["errors"][0]["notebook"] == "broken.ipynb"
    assert reply["errors"][0]["code"]


async def test_parsing_runs_no_user_code(api, put_nb, jp_root_dir):
    marker = jp_root_dir / "ran.txt"
    put_nb([code(f"open({str(marker)!r}, 'w').write('ran')", "step:touch")], "side.ipynb")

    status, reply = await api("GET", "pipeline", params={"path": "side.ipynb"})

    assert status == 200 and reply["valid"]
    assert not marker.exists()


async def test_a_notebook_of_a_pipeline_file_gives_the_whole_pipeline(api, jp_root_dir):
    """Open liminal.yml, or one of the notebooks it lists: the pipeline of every notebook,
    each step naming its notebook (the panel colours the DAG by it)."""
    import shutil

    from tests.conftest import EXAMPLES

    shutil.copytree(EXAMPLES / "wine_pipeline", jp_root_dir / "wine")
    notebooks = {"load": "load.ipynb", "clean": "features.ipynb", "split": "features.ipynb",
                 "train": "train.ipynb", "evaluate": "train.ipynb"}
    for path in ("wine/liminal.yml", "wine/features.ipynb"):
        status, reply = await api("GET", "pipeline", params={"path": path})
        assert status == 200 and reply["valid"] is True, reply["errors"]
        assert reply["path"] == path
        assert reply["pipeline_file"] == (None if path.endswith(".yml") else "wine/liminal.yml")
        assert reply["pipeline"]["notebook"] == "wine/liminal.yml"
        assert {s["name"]: s["notebook"] for s in reply["pipeline"]["steps"]} == notebooks
    status, reply = await api("GET", "pipeline", params={"path": "wine/alone.ipynb"})
    assert status == 404
