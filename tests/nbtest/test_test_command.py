"""`liminal-nb test`: notebooks run as tests in real kernels, as a CI job runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import papermill.tests as papermill_tests
import pytest
import xmlschema

from liminal_jupyter.nbtest.cases import BadInput, find_notebooks
from tests.conftest import code, md, notebook_json
from tests.nbtest.helpers import JUNIT_XSD, LIMINAL_NB, junit_cases, liminal_test


def write(path: Path, cells: list[dict], metadata: dict | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_json(cells, metadata)))
    return path


def executed_cells(path: str) -> list[dict]:
    return json.loads(Path(path).read_text())["cells"]


def printed(cell: dict) -> list[str]:
    """What a code cell printed, one string per stream output."""
    return ["".join(o["text"]) for o in cell.get("outputs", []) if o["output_type"] == "stream"]


def test_a_failing_notebook_names_cell_traceback_and_keeps_the_executed_notebook(tmp_path):
    write(tmp_path / "good.ipynb", [code("x = 1"), code("print(x + 1)")])
    write(tmp_path / "bad.ipynb", [
        md("# Broken"),
        code("rows = [1, 2, 3]"),
        code("total = sum(rows)\nratio = total / (len(rows) - 3)"),
        code("print('never reached')"),
    ])
    done = liminal_test(".", "--junit", "report.xml", "--jobs", "2", cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "bad.ipynb[defaults]" in out and "good.ipynb[defaults]" in out
    # The failing cell is the notebook's 3rd cell (1-based, counting the markdown cell), id c2.
    assert "cell 3 (id c2), line 2" in out
    assert "ZeroDivisionError: division by zero" in out
    assert "----> 2 ratio = total / (len(rows) - 3)" in out
    assert "1 passed, 1 failed" in out

    kept = tmp_path / ".liminal/test/bad/notebook/defaults/executed.ipynb"
    assert f"executed notebook (kept): {kept}" in out.replace("\n", "")
    cells = executed_cells(kept)
    assert [o["ename"] for o in cells[2]["outputs"] if o["output_type"] == "error"] == [
        "ZeroDivisionError"]
    assert cells[3]["execution_count"] is None  # it stopped at the failure

    cases = junit_cases(tmp_path / "report.xml")
    assert cases["good.ipynb::defaults"].find("failure") is None
    failure = cases["bad.ipynb::defaults"].find("failure")
    assert failure.get("type") == "ZeroDivisionError"
    assert "cell 3 (id c2)" in failure.get("message")
    assert "ratio = total / (len(rows) - 3)" in failure.text
    assert str(kept) in cases["bad.ipynb::defaults"].find("system-out").text


def test_raises_exception_cells_may_fail_and_skip_ci_cells_do_not_run(tmp_path):
    nb = write(tmp_path / "tags.ipynb", [
        code("x = 1"),
        code("raise ValueError('shown on purpose')", "raises-exception"),
        code("import time\ntime.sleep(1000)\n1 / 0", "skip-ci"),
        code("print('done', x)"),
    ])
    done = liminal_test(nb, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    cells = executed_cells(tmp_path / ".liminal/test/tags/notebook/defaults/executed.ipynb")
    assert cells[1]["outputs"][0]["ename"] == "ValueError"
    assert cells[2]["execution_count"] is None and cells[2]["outputs"] == []
    assert printed(cells[3]) == ["done 1\n"]
    assert json.loads(nb.read_text()) == notebook_json([
        code("x = 1"),
        code("raise ValueError('shown on purpose')", "raises-exception"),
        code("import time\ntime.sleep(1000)\n1 / 0", "skip-ci"),
        code("print('done', x)"),
    ]), "the user's notebook is never modified"


@pytest.mark.parametrize("mode", [[], ["--as-pipeline"]], ids=["straight", "pipeline"])
def test_a_notebook_over_its_timeout_is_stopped_and_reported(tmp_path, mode):
    write(tmp_path / "slow.ipynb", [
        code("import time"),
        code("started = time.time()", "step:start"),
        code("time.sleep(600)\nfinished = time.time()", "step:sleep"),
        code("print(finished - started)", "step:report"),
    ])
    done = liminal_test("slow.ipynb", "--timeout", "15", "--junit", "r.xml", *mode,
                        cwd=tmp_path, timeout=300)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "timed out after 15 s, while running" in done.stdout
    assert "cell 3 (id c2)" in done.stdout
    if mode:
        assert "step 'sleep'" in done.stdout
    [case] = junit_cases(tmp_path / "r.xml").values()
    error = case.find("error")
    assert error is not None and "timed out after 15 s" in error.get("message")


def test_the_timeout_stops_a_case_even_when_started_with_sigint_ignored(tmp_path):
    """Found in `make test`: a test earlier in the same process had run ipykernel's set-up,
    which ignores SIGINT, and children inherit an ignored signal. So does `!liminal-nb test`
    from a notebook. The case child ignored the runner's SIGINT, ran on through the grace
    period, was killed at 45 s and was reported without the cell it was running."""
    write(tmp_path / "slow.ipynb", [
        code("import time"),
        code("time.sleep(600)", "step:sleep"),
    ])
    ignoring = ("import signal, subprocess, sys\n"
                "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "sys.exit(subprocess.call(sys.argv[1:]))\n")
    done = subprocess.run(
        [sys.executable, "-c", ignoring, str(LIMINAL_NB), "test", "slow.ipynb", "--timeout",
         "10"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200"})

    assert done.returncode == 1, done.stdout + done.stderr
    assert "timed out after 10 s, while running cell 2 (id c1)" in done.stdout, done.stdout


MATRIX_NB = [
    code("n = 3  # how many\nlabel = 'x'", "parameters"),
    code("values = list(range(n))", "step:make"),
    code("assert len(values) < 10, f'{label}: too many'\nprint(label, sum(values))",
         "step:check"),
]


def test_matrix_sets_from_metadata_each_run_with_their_values(tmp_path):
    write(tmp_path / "m.ipynb", MATRIX_NB, {"liminal": {"test": {
        "five": {"n": 5, "label": "five"},
        "too-many": {"n": 12, "label": "big"},
    }}})
    done = liminal_test("m.ipynb", "--junit", "r.xml", "--both", cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    cases = junit_cases(tmp_path / "r.xml")
    assert sorted(cases) == sorted([
        "m.ipynb::defaults", "m.ipynb::five", "m.ipynb::too-many",
        "m.ipynb::defaults as pipeline", "m.ipynb::five as pipeline",
        "m.ipynb::too-many as pipeline"])
    failed = sorted(k for k, c in cases.items() if c.find("failure") is not None)
    assert failed == ["m.ipynb::too-many", "m.ipynb::too-many as pipeline"]
    assert "AssertionError: big: too many" in cases["m.ipynb::too-many"].find("failure").text
    five = executed_cells(tmp_path / ".liminal/test/m/notebook/five/executed.ipynb")
    assert "five 10\n" in [text for cell in five for text in printed(cell)]


def test_a_matrix_file_replaces_the_notebook_sets_and_is_typed(tmp_path):
    write(tmp_path / "m.ipynb", MATRIX_NB, {"liminal": {"test": [{"n": 50}]}})
    (tmp_path / "ok.yaml").write_text("m.ipynb:\n  - {n: 4}\n  - {n: 2, label: two}\n")
    done = liminal_test("m.ipynb", "--matrix", "ok.yaml", "--junit", "r.xml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(junit_cases(tmp_path / "r.xml")) == [
        'm.ipynb::defaults', 'm.ipynb::n=2,label="two"', "m.ipynb::n=4"]

    (tmp_path / "bad.yaml").write_text("- {n: four}\n")
    done = liminal_test("m.ipynb", "--matrix", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "set 'n=\"four\"' n='four': expected a whole number, got str" in done.stderr

    (tmp_path / "unknown.yaml").write_text("small: {n_estimators: 4}\n")
    done = liminal_test("m.ipynb", "--matrix", "unknown.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "no such parameter; parameters are n, label" in done.stderr


def test_as_pipeline_checks_data_passing_between_steps(tmp_path):
    write(tmp_path / "p.ipynb", [
        code("import pandas as pd", "imports"),
        code("frame = pd.DataFrame({'a': [1, 2, 3]})", "step:load"),
        code("frame['b'] = frame['a'] * 2", "step:derive"),
        code("assert list(frame['b']) == [2, 4, 6]\nhandle = open('p.ipynb')", "step:check"),
        code("print(handle.read(1))", "step:use"),
    ])
    straight = liminal_test("p.ipynb", cwd=tmp_path)
    assert straight.returncode == 0, straight.stdout + straight.stderr

    piped = liminal_test("p.ipynb", "--as-pipeline", cwd=tmp_path)
    # An open file cannot cross a step boundary: only the pipeline run finds that out.
    assert piped.returncode == 1, piped.stdout + piped.stderr
    assert "step 'check'" in piped.stdout and "handle" in piped.stdout


def test_a_notebook_that_is_no_valid_pipeline_fails_as_a_pipeline_only(tmp_path):
    write(tmp_path / "undefined.ipynb", [
        code("rows = [1, 2]", "step:load"),
        code("if False:\n    later = 1", "step:maybe"),
        code("print(len(rows), totl)", "step:use", "raises-exception"),
    ])
    done = liminal_test("undefined.ipynb", "--both", "--junit", "r.xml", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    cases = junit_cases(tmp_path / "r.xml")
    assert cases["undefined.ipynb::defaults"].find("failure") is None  # straight: allowed
    failure = cases["undefined.ipynb::defaults as pipeline"].find("failure")
    assert failure.get("type") == "InvalidPipeline"
    assert "cell 3 of 3 (id c2), line 1 [step 'use']: name 'totl'" in failure.get("message")
    assert "at cell 3 (id c2), line 1" in failure.text


def test_a_python_kernel_that_is_not_installed_runs_in_python3_saying_so(tmp_path):
    """An author's kernel name (a conda environment's) is not installed on a CI runner:
    the case runs in this Python's kernel, as `run` and every engine's steps do
    (step/kernelspec.py), and its log says so. It failed with papermill's NoSuchKernel."""
    nb = notebook_json([code("import sys\nprint(1, sys.executable)")])
    nb["metadata"]["kernelspec"] = {"name": "no-such-kernel", "display_name": "Nope",
                                    "language": "python"}
    (tmp_path / "k.ipynb").write_text(json.dumps(nb))
    done = liminal_test("k.ipynb", "--both", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    log = (tmp_path / ".liminal/test/k/notebook/defaults/log.txt").read_text()
    assert "warning: the notebook's kernel 'no-such-kernel' is not installed here" in log
    assert f"1 {sys.executable}" in log


def test_fresh_kernels_give_each_step_its_own_process(tmp_path):
    """By default a pipeline case recycles the kernel of a step that succeeded, as `run`
    does; --fresh-kernels starts one per step, as a Kubeflow pod would."""
    write(tmp_path / "pids.ipynb", [
        code("import os", "imports"),
        code("pid_a = os.getpid()", "step:a"),
        code("pid_b = os.getpid()\nassert pid_b != pid_a, 'same kernel'", "step:b"),
    ])
    recycled = liminal_test("pids.ipynb", "--as-pipeline", cwd=tmp_path)
    assert recycled.returncode == 1 and "same kernel" in recycled.stdout
    fresh = liminal_test("pids.ipynb", "--as-pipeline", "--fresh-kernels", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr


def test_bad_input_exits_2_with_a_clear_message(tmp_path):
    done = liminal_test("missing.ipynb", cwd=tmp_path)
    assert done.returncode == 2 and "missing.ipynb: no such file or folder." in done.stderr
    (tmp_path / "empty").mkdir()
    done = liminal_test("empty", cwd=tmp_path)
    assert done.returncode == 2 and "no notebooks (.ipynb) found" in done.stderr
    (tmp_path / "broken.ipynb").write_text('{"nbformat": 4, "cells": [')
    done = liminal_test("broken.ipynb", cwd=tmp_path)
    assert done.returncode == 2 and "invalid JSON" in done.stderr
    assert "Traceback" not in done.stderr
    write(tmp_path / "intro.ipynb", [md("# Read me first")])
    done = liminal_test("intro.ipynb", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == (
        "error: intro.ipynb: the notebook has no code cells, so there is nothing to run.")


def test_a_folder_runs_its_notebooks_leaving_out_markdown_only_and_other_languages(tmp_path):
    """Found on papermill's own test notebooks: one Markdown-only notebook (its
    blank-vscode.ipynb) or one R notebook in a folder refused the whole folder, printing
    'error: error: ...'. pytest passes over a file without tests; so do we, and say so."""
    write(tmp_path / "nbs" / "intro.ipynb", [md("# Read me first")])
    write(tmp_path / "nbs" / "r.ipynb", [code("x <- 1")],
          {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"},
           "language_info": {"name": "R"}})
    write(tmp_path / "nbs" / "good.ipynb", [code("x = 1"), code("assert x == 1")])
    done = liminal_test("nbs", "--junit", "r.xml", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert done.stderr.splitlines() == [
        "left out: nbs/intro.ipynb: the notebook has no code cells, so there is nothing to run.",
        "left out: nbs/r.ipynb: the notebook's kernel language is 'r'; liminal-jupyter builds "
        "pipelines from Python notebooks only."]
    assert list(junit_cases(tmp_path / "r.xml")) == ["good.ipynb::defaults"]


def test_folders_are_searched_skipping_checkpoints_and_run_records(tmp_path):
    for name in ("a.ipynb", "sub/b.ipynb", "sub/.ipynb_checkpoints/b-checkpoint.ipynb",
                 ".liminal/test/a/notebook/defaults/executed.ipynb", "out/x.ipynb"):
        write(tmp_path / name, [code("pass")])
    found = find_notebooks([str(tmp_path)], exclude=tmp_path / "out")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.ipynb", "sub/b.ipynb"]
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(BadInput, match="not a notebook"):
        find_notebooks([str(tmp_path / "notes.txt")])


def test_the_junit_schema_is_not_vacuous(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text('<testsuites><testsuite name="s" tests="1">'
                   '<testcase classname="c"><failure/><error/></testcase>'
                   "</testsuite></testsuites>")
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        JUNIT_XSD.validate(str(bad))


def test_help_describes_the_command_with_examples(capsys):
    from liminal_jupyter.cli import main

    with pytest.raises(SystemExit) as info:
        main(["test", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "liminal-nb test example_notebooks/ --as-pipeline" in out
    assert "raises-exception" in out and "skip-ci" in out and "Exit status" in out


def test_html_pages_per_case_are_named_in_the_junit_xml(tmp_path):
    write(tmp_path / "good.ipynb", [code("print('all', 'fine')")])
    write(tmp_path / "bad.ipynb", [
        code("rows = [1, 2, 3]", "step:load"),
        code("print('<script>alert(1)</script>')\nratio = sum(rows) / (len(rows) - 3)",
             "step:divide"),
    ])

    done = liminal_test(".", "--both", "--junit", "r.xml", "--html", "pages", "--jobs", "2",
                        cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    cases = junit_cases(tmp_path / "r.xml")  # still valid against the XSD
    pages = {}
    for key, case in cases.items():
        out = case.find("system-out").text
        path = next(line[len("html: "):] for line in out.splitlines() if line.startswith("html: "))
        assert f"[[ATTACHMENT|{path}]]" in out
        assert Path(path).parent == tmp_path / "pages"
        pages[key] = Path(path).read_text()
    assert len(pages) == 4
    assert "all fine" in pages["good.ipynb::defaults"]
    straight = pages["bad.ipynb::defaults"]
    assert "ZeroDivisionError" in straight and "division by zero" in straight
    # As a pipeline, the page is the run report, the failed step open at its traceback.
    piped = pages["bad.ipynb::defaults as pipeline"]
    assert '<details id="step-1-divide" class="step" open>' in piped
    assert "ratio = sum(rows) / (len(rows) - 3)" in piped
    for page in pages.values():
        assert "<script" not in page.lower()


PAPERMILL_NOTEBOOKS = Path(papermill_tests.__file__).parent / "notebooks"
SYS_EXITS = ["sysexit.ipynb", "sysexit0.ipynb", "systemexit.ipynb", "sysexit1.ipynb",
             "line_magic_error.ipynb"]


def test_sys_exit_passes_or_fails_as_papermill_decides_on_its_own_notebooks(tmp_path):
    """papermill's own test notebooks (in its wheel): `sys.exit()`, `sys.exit(0)` and a bare
    `raise SystemExit` end a notebook cleanly (papermill raises nothing and runs no later
    cell), `sys.exit(1)` fails it. Before, `liminal-nb test` failed all four ('the cell
    failed without output'): papermill marks the exiting cell as an exception either way.
    A line magic that does not exist fails with no error output, only IPython's
    UsageError on stderr, which the failure now quotes (it said 'failed without output')."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    for name in SYS_EXITS:
        (tmp_path / name).write_bytes((PAPERMILL_NOTEBOOKS / name).read_bytes())
    papermill_fails = set()
    for name in SYS_EXITS:
        try:
            papermill.execute_notebook(str(tmp_path / name), str(tmp_path / f"pm-{name}"),
                                       progress_bar=False)
        except PapermillExecutionError:
            papermill_fails.add(name)
    assert papermill_fails == {"sysexit1.ipynb", "line_magic_error.ipynb"}

    done = liminal_test(*SYS_EXITS, "--junit", "r.xml", cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "3 passed, 2 failed" in done.stdout
    cases = junit_cases(tmp_path / "r.xml")
    failed = {key.split("::")[0] for key, case in cases.items()
              if case.find("failure") is not None or case.find("error") is not None}
    assert failed == papermill_fails
    assert "failed at cell 2 (id -): SystemExit: 1" in done.stdout
    assert ("failed at cell 1 (id -): CellExecutionError: UsageError: Line magic function "
            "`%undefined-line-magic` not found.") in done.stdout.replace("\n", "")
    kept = executed_cells(tmp_path / ".liminal/test/sysexit1/notebook/defaults/executed.ipynb")
    assert kept[2]["execution_count"] is None  # the cell after the exit never ran


def test_a_notebook_that_is_no_valid_pipeline_fails_its_case_saying_why_once(tmp_path):
    """Each diagnostic once, without its own 'error:' inside the case's (found on
    papermill's broken.ipynb: 'the notebook is not a valid pipeline: error: ...')."""
    write(tmp_path / "bad.ipynb", [code("x = 1", "step:a"), code("print 'x'", "step:b")])
    done = liminal_test("bad.ipynb", "--as-pipeline", "--junit", "r.xml", cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout.replace("\n", "")
    assert ("the notebook is not a valid pipeline: bad.ipynb, cell 2 of 2 (id c1), line 1: "
            "syntax error") in out
    assert "pipeline: error:" not in out
    [case] = junit_cases(tmp_path / "r.xml").values()
    assert case.find("failure").get("message").startswith(
        "the notebook is not a valid pipeline: bad.ipynb, cell 2 of 2 (id c1)")
