"""`liminal-nb report RUN`: one self-contained page per run (runs/report.py, runs/dag_svg.py).

A real local run with a failing step (real kernels), then the report read as a browser
would: what it shows, and that it runs nothing and fetches nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import code

from liminal_jupyter.cli import main
from liminal_jupyter.runs.dag_svg import layers
from liminal_jupyter.runs.store import RunStore

REMOTE = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*"""
                    r"""(?:https?:)?//|@import|import\(""", re.IGNORECASE)
CDN = re.compile(r"cdnjs|jsdelivr|unpkg|googleapis|require\.min\.js|mathjax", re.IGNORECASE)


@pytest.fixture
def failed_run(write_nb, capsys, request):
    """A run of count -> (twice, half) -> divide (fails) -> after (skipped)."""
    notebook = write_nb([
        code("n = 3", "parameters"),
        code("total = sum(range(n))\nprint('the total is', total)", "step:count"),
        code("double = total * 2", "step:twice"),
        code("half = total / 2", "step:half"),
        code("print('<script>alert(1)</script>')\nratio = double / (half - half)", "step:divide"),
        code("final = ratio + 1", "step:after"),
        code("double", "metrics"),
    ])
    options = getattr(request, "param", [])
    assert main(["run", str(notebook), "--no-tracking", "--quiet", "-p", "n=4", *options]) == 1
    capsys.readouterr()
    store = RunStore(notebook.parent / ".liminal")
    return notebook, store, store.list_runs(limit=1)[0].run_id


def _report(capsys, notebook: Path, run_id: str, *options: str) -> tuple[str, str]:
    assert main(["report", run_id[:15], "--dir", str(notebook.parent), *options]) == 0
    out = capsys.readouterr().out
    path = Path(out.strip().rsplit(": ", 1)[1])
    return path.read_text(encoding="utf-8"), str(path)


@pytest.mark.parametrize("failed_run", [[], ["--no-html"]], indirect=True,
                         ids=["pages-of-the-run", "rendered-by-the-report"])
def test_report_of_a_failed_run_opens_the_failing_step_at_its_traceback(failed_run, capsys):
    notebook, store, run_id = failed_run

    page, path = _report(capsys, notebook, run_id)

    assert path == str(store.run_dir(run_id) / "report.html")
    # The failed step's section is open and starts with the error and its traceback.
    divide = page[page.index('<details id="step-3-divide"'):]
    assert divide.startswith('<details id="step-3-divide" class="step" open>')
    error = divide[divide.index('<div class="error"'):divide.index("</div>")]
    assert "ZeroDivisionError" in error and "ratio = double / (half - half)" in error
    assert "Traceback" in error
    # Succeeded steps are collapsed, with their notebook (and printed output) inside.
    count = page[page.index('<details id="step-0-count"'):page.index('<details id="step-1')]
    assert 'class="step">' in count and "the total is 6" in count
    # The DAG: a box per step in its state, the failed one linking to its error.
    for name, state in [("count", "succeeded"), ("twice", "succeeded"), ("half", "succeeded"),
                        ("divide", "failed"), ("after", "skipped")]:
        assert re.search(rf'<a href="#[^"]*{name}" class="liminal-dag-step" '
                         rf'data-state="{state}">', page), name
    assert '<a href="#error-step-3-divide"' in page
    # Parameters, with where the value came from; metrics by step.
    assert re.search(r"<th>n</th><td><code>4</code></td><td>set for this run", page)
    assert "<th>double</th><td>12</td><td>twice</td>" in page


def test_report_runs_no_script_and_loads_nothing(failed_run, capsys, tmp_path):
    notebook, _, run_id = failed_run

    page, _ = _report(capsys, notebook, run_id, "-o", str(tmp_path / "r.html"))

    assert re.search(r"<script", page, re.IGNORECASE) is None
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert REMOTE.search(page) is None, REMOTE.search(page)
    assert CDN.search(page) is None, CDN.search(page)
    assert "default-src 'none'" in page
    assert page.count("<style") < 6  # the lab stylesheet once, not once per step


def test_report_of_an_unknown_run_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "nope", "--dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err


def test_layers_put_each_step_below_all_it_reads_and_untangle_crossings():
    upstream = {"a": set(), "b": set(), "c": {"b"}, "d": {"a"}, "e": {"c", "d"}}

    rows = layers(["a", "b", "c", "d", "e"], upstream)

    assert rows == [["a", "b"], ["d", "c"], ["e"]]
