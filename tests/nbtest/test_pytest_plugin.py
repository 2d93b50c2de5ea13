"""The pytest plugin: `pytest --liminal-nb PATH` collects notebooks, and only then.

pytester runs pytest in a child process here, so the plugin is found the way a user's
pytest finds it: through the installed package's `pytest11` entry point.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tests.conftest import code, md, notebook_json
from tests.nbtest.helpers import JUNIT_XSD

SETS = {"liminal": {"test": {"three": {"n": 3}, "twelve": {"n": 12}}}}


def add_notebook(pytester, name: str, cells: list[dict], metadata: dict | None = None) -> None:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_json(cells, metadata)))


def counting_notebook(pytester) -> None:
    add_notebook(pytester, "nbs/count.ipynb", [
        md("# Count"),
        code("n = 5", "parameters"),
        code("values = list(range(n))"),
        code("total = sum(values)\nassert total < 50, f'total {total} is too big'"),
    ], SETS)
    add_notebook(pytester, "nbs/.ipynb_checkpoints/count-checkpoint.ipynb", [code("1/0")])
    # Markdown only: no items, and no collection error that would stop the session.
    add_notebook(pytester, "nbs/intro.ipynb", [md("# Read me first")])


def test_without_the_option_notebooks_are_not_collected(pytester):
    counting_notebook(pytester)
    result = pytester.runpytest_subprocess("nbs", "--collect-only", "-q")
    assert result.ret == 5  # no tests collected
    assert "count.ipynb" not in result.stdout.str()


def test_each_notebook_and_parameter_set_is_an_item(pytester):
    counting_notebook(pytester)
    result = pytester.runpytest_subprocess("--liminal-nb", "nbs", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["nbs/count.ipynb::defaults", "nbs/count.ipynb::three",
                                 "nbs/count.ipynb::twelve", "3 tests collected*"])
    assert result.ret == 0, result.stdout.str()  # intro.ipynb is no collection error
    assert "checkpoint" not in result.stdout.str() and "intro" not in result.stdout.str()

    piped = pytester.runpytest_subprocess("--liminal-nb", "--liminal-nb-as-pipeline", "nbs",
                                          "--collect-only", "-q")
    piped.stdout.fnmatch_lines(["nbs/count.ipynb::defaults[[]pipeline[]]", "*3 tests*"])


def test_a_failure_reports_the_set_the_cell_and_the_traceback(pytester):
    counting_notebook(pytester)
    result = pytester.runpytest_subprocess("--liminal-nb", "nbs", "-p", "no:cacheprovider",
                                           "--junitxml", "report.xml")
    assert result.ret == 1
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "_ nbs/count.ipynb::twelve _" in out or "count.ipynb::twelve" in out
    result.stdout.fnmatch_lines([
        "*notebook nbs/count.ipynb, parameter set 'twelve' (notebook) failed*",
        '*parameters: {"n": 12}*',
        "*at cell 4 (id c3), line 2*",
        "*AssertionError: total 66 is too big*",
        "*----> 2 assert total < 50*",
        "*executed notebook (kept): *count/notebook/twelve/executed.ipynb",
        "FAILED nbs/count.ipynb::twelve*",
    ])
    # pytest's own JUnit XML fits the same schema as ours (the schema is the common one).
    JUNIT_XSD.validate(str(pytester.path / "report.xml"))
    assert len(ET.parse(pytester.path / "report.xml").findall(".//testcase")) == 3


def test_a_bad_parameter_set_is_a_collection_error_without_our_traceback(pytester):
    add_notebook(pytester, "bad.ipynb", [code("n = 5", "parameters"), code("print(n)")],
                 {"liminal": {"test": [{"n": "five"}]}})
    result = pytester.runpytest_subprocess("--liminal-nb", "bad.ipynb")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*bad.ipynb: notebook metadata liminal.test: set*n='five': "
                                 "expected a whole number, got str*"])
    assert "liminal_jupyter/" not in result.stdout.str()
