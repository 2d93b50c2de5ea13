"""`liminal-nb run`, `runs`, `show` and `logs`, as a user types them.

Every run here starts real kernels (papermill, about 1.5 s a step), so the notebooks are
tiny, use the standard library only, and run without MLflow (`--no-tracking`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import code, md

from liminal_jupyter.cli import main
from liminal_jupyter.runs.store import RunStore

LIMINAL_NB = str(Path(sys.executable).with_name("liminal-nb"))


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `liminal-nb ARGS` in this process: (exit status, stdout, stderr)."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def run_id_in(out: str) -> str:
    found = re.search(r"^run (\S+): (succeeded|failed)$", out, re.MULTILINE)
    assert found, f"no 'run ID: STATUS' line in:\n{out}"
    return found.group(1)


def show_json(capsys, folder: Path, run_id: str) -> dict:
    status, out, err = cli(capsys, "show", run_id, "--dir", str(folder), "--json")
    assert status == 0, err
    shown = json.loads(out)
    shown["by_step"] = {s["step"]: s for s in shown["steps"]}
    return shown


SUM_NOTEBOOK = [
    md("# Sum some numbers"),
    code("n = 4", "parameters"),
    code("rows = list(range(n))\nprint('loaded', len(rows), 'rows')", "step:load"),
    code("total = sum(rows)\nprint('the total is', total)", "step:add"),
    code("total", "metrics"),
]


# -- 1. end to end ------------------------------------------------------------------------
def test_a_pipeline_runs_end_to_end_and_runs_show_logs_report_it(write_nb, tmp_path, capsys):
    notebook = write_nb(SUM_NOTEBOOK)

    status, out, err = cli(capsys, "run", str(notebook), "--no-tracking")
    assert status == 0, err
    run_id = run_id_in(out)
    assert "metrics: total=6" in out

    status, out, _ = cli(capsys, "runs", str(tmp_path))
    assert status == 0
    (line,) = [line for line in out.splitlines() if line.startswith(run_id)]
    assert line.split()[1] == "succeeded" and line.endswith("nb.ipynb")

    shown = show_json(capsys, tmp_path, run_id)
    assert shown["run"]["status"] == "succeeded"
    assert [s["step"] for s in shown["steps"]] == ["load", "add"]
    assert {s["status"] for s in shown["steps"]} == {"succeeded"}
    load, add = shown["by_step"]["load"], shown["by_step"]["add"]
    assert set(load["outputs"]) == {"rows"} and Path(load["outputs"]["rows"]["path"]).is_file()
    assert add["metrics"] == {"total": 6.0}
    for step in shown["steps"]:
        assert Path(step["executed_notebook"]).is_file()

    status, out, _ = cli(capsys, "logs", run_id, "add", "--dir", str(tmp_path))
    assert status == 0
    assert "the total is 6" in out, f"`liminal-nb logs RUN add` printed:\n{out}"
    assert "loaded 4 rows" not in out  # one step's log only

    status, _, err = cli(capsys, "logs", run_id, "nope", "--dir", str(tmp_path))
    assert status == 2 and "steps are load, add" in err


# -- 3. a failing step --------------------------------------------------------------------
def test_a_failing_step_skips_its_dependants_and_says_where_it_failed(write_nb, tmp_path):
    notebook = write_nb([
        code("values = [3, 0]", "step:load"),
        code("first = values[0]", "step:divide"),
        code("ratio = first / values[1]"),  # cell 2 (id c2), line 1
        code("print(ratio)", "step:report"),
        code("side = 'independent'\nprint(side)", "step:side"),
    ])

    done = subprocess.run([LIMINAL_NB, "run", str(notebook), "--no-tracking"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    said = done.stdout + done.stderr
    run_id = run_id_in(done.stdout)
    assert f"run {run_id}: failed" in done.stdout

    steps = {r.step: r for r in RunStore(tmp_path / ".liminal").steps(run_id)}
    assert {name: r.status for name, r in steps.items()} == {
        "load": "succeeded", "divide": "failed", "report": "skipped", "side": "succeeded",
    }
    assert "step 'divide' failed in notebook cell 3 (id c2), line 1" in said
    assert "ZeroDivisionError: division by zero" in said
    executed = steps["divide"].executed_notebook
    assert executed and executed in said
    errors = [output for cell in json.loads(Path(executed).read_text())["cells"]
              for output in cell.get("outputs", []) if output["output_type"] == "error"]
    assert [e["ename"] for e in errors] == ["ZeroDivisionError"]
    assert f"--resume {run_id}" in said


# -- 7. the source notebook, and two runs at once -----------------------------------------
def test_runs_never_modify_the_notebook_and_two_at_once_keep_apart(write_nb, tmp_path):
    notebook = write_nb(SUM_NOTEBOOK)
    before = (notebook.read_bytes(), notebook.stat().st_mtime_ns)

    command = [LIMINAL_NB, "run", str(notebook), "--no-tracking", "--no-cache"]
    both = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in both]
    assert [p.returncode for p in both] == [0, 0], [err for _, err in outs]
    assert (notebook.read_bytes(), notebook.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".liminal", "nb.ipynb"]

    first, second = (run_id_in(out) for out, _ in outs)
    assert first != second
    store = RunStore(tmp_path / ".liminal")
    paths = {}
    for run_id in (first, second):
        assert store.get_run(run_id).status == "succeeded"
        records = store.steps(run_id)
        assert {r.status for r in records} == {"succeeded"}
        run_dir = store.run_dir(run_id)
        owned = [records[0].outputs["rows"]["path"], *(r.executed_notebook for r in records)]
        assert all(Path(p).is_relative_to(run_dir) and Path(p).is_file() for p in owned)
        paths[run_id] = set(owned)
    assert not paths[first] & paths[second]


# -- 8. parameters ------------------------------------------------------------------------
PARAMS_NOTEBOOK = [
    code("epochs = 3\nlr = 0.5\nverbose = False\nlabel = 'base'\nlayers = [1, 2]\nnote = ''",
         "parameters"),
    code("import json", "imports"),
    code("seen = {name: [type(value).__name__, value] for name, value in [\n"
         "    ('epochs', epochs), ('lr', lr), ('verbose', verbose), ('label', label),\n"
         "    ('layers', layers), ('note', note)]}\n"
         "with open('seen.json', 'w') as f:\n"
         "    json.dump(seen, f)", "step:record"),
]

EVIL = ("it's \"quoted\" \\ {braces}\nline two\n"
        "__import__('os').system('touch PWNED')")


def test_parameters_are_typed_checked_and_passed_only_as_data(write_nb, tmp_path, capsys):
    notebook = write_nb(PARAMS_NOTEBOOK)
    seen = tmp_path / "seen.json"

    status, _, err = cli(capsys, "run", str(notebook), "--no-tracking", "-p", "epoch=5")
    assert status == 2
    assert "epoch" in err and "Did you mean 'epochs'?" in err
    status, _, err = cli(capsys, "run", str(notebook), "--no-tracking", "-p", "epochs=many")
    assert status == 2
    assert "epochs" in err and "'many'" in err
    assert not (tmp_path / ".liminal").exists()  # nothing ran

    done = subprocess.run(
        [LIMINAL_NB, "run", str(notebook), "--no-tracking", "-p", "epochs=7", "-p", "lr=0.01",
         "-p", "verbose=true", "-p", "label=5", "-p", "layers=[4, 5, 6]", "-p", f"note={EVIL}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(seen.read_text()) == {
        "epochs": ["int", 7], "lr": ["float", 0.01], "verbose": ["bool", True],
        "label": ["str", "5"], "layers": ["list", [4, 5, 6]], "note": ["str", EVIL],
    }
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()

    params_file = tmp_path / "params.yaml"
    params_file.write_text("epochs: 11\nlabel: from-file\nverbose: yes\n")
    status, _, err = cli(capsys, "run", str(notebook), "--no-tracking", "--params-file",
                         str(params_file), "-p", "label=from-cli")
    assert status == 0, err
    recorded = json.loads(seen.read_text())
    assert recorded["epochs"] == ["int", 11]
    assert recorded["verbose"] == ["bool", True]
    assert recorded["label"] == ["str", "from-cli"]
    assert recorded["lr"] == ["float", 0.5]  # the notebook's default


# -- 10. output for scripts and for quiet runs --------------------------------------------
def test_json_prints_events_and_quiet_prints_nothing_on_success(write_nb, tmp_path, capsys):
    notebook = write_nb(SUM_NOTEBOOK)

    status, out, err = cli(capsys, "run", str(notebook), "--no-tracking", "-q")
    assert status == 0
    assert (out, err) == ("", "")

    status, out, _ = cli(capsys, "run", str(notebook), "--no-tracking", "--no-cache", "--json")
    assert status == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["event"] == "run_started"
    assert events[0]["steps"] == ["load", "add"]
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "succeeded"
    assert events[-1]["run_id"] == events[0]["run_id"]
    step_events = [(e["step"], e["state"]) for e in events if e["event"] == "step"]
    assert step_events == [("load", "running"), ("load", "succeeded"),
                           ("add", "running"), ("add", "succeeded")]
    assert all(isinstance(e["time"], float) for e in events)
    assert os.path.isdir(tmp_path / ".liminal" / "runs" / events[0]["run_id"])
