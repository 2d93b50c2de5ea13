"""`liminal-nb inspect` and `--help` import nothing heavy (DESIGN.md, "Contracts").

Not a timed test: it checks the cause of slowness (heavy imports) in a fresh interpreter,
which is deterministic. The timings themselves are in benchmarks/bench_inspect.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MAKE_NOTEBOOKS = Path(__file__).resolve().parents[1] / "benchmarks" / "make_notebooks.py"
NEVER = {"kfp", "mlflow", "papermill", "pandas", "numpy", "pyarrow", "nbformat", "jsonschema",
         "nbconvert", "bleach"}
HEAVY = NEVER | {"IPython"}

CHILD = """\
import contextlib, io, json, sys
from liminal_jupyter.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(["inspect", sys.argv[1]])
    try:
        main(["--help"])
    except SystemExit:
        pass
print(json.dumps({"exit": code, "heavy": sorted(set(sys.modules) & set(json.loads(sys.argv[2])))}))
"""


def _make_notebooks():
    spec = importlib.util.spec_from_file_location("make_notebooks", MAKE_NOTEBOOKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inspect_in_child(notebook: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(notebook), json.dumps(sorted(HEAVY))],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("magics", [True, False], ids=["magics", "no-magics"])
def test_inspect_and_help_import_nothing_heavy(tmp_path: Path, magics: bool) -> None:
    notebook = _make_notebooks().write_notebook(tmp_path / "big.ipynb", 500, magics=magics)

    result = _inspect_in_child(notebook)

    assert result["exit"] == 0, "the generated notebook should be a valid pipeline"
    assert not set(result["heavy"]) & NEVER, result["heavy"]
    if not magics:
        # IPython's input transformer is only needed for `!` lines and magics.
        assert "IPython" not in result["heavy"]


def test_the_python_api_is_loaded_on_first_use_and_reads_a_pipeline_light():
    """`import liminal_jupyter` loads no API module; reading a pipeline through the API
    imports nothing heavy either (widgets and runs import what they need when used)."""
    child = (
        "import json, sys\n"
        "import liminal_jupyter\n"
        "before = sorted(m for m in sys.modules if m.startswith('liminal_jupyter.'))\n"
        "from liminal_jupyter import Pipeline\n"
        "Pipeline.from_notebook(sys.argv[1]).parameters\n"
        "print(json.dumps([before, sorted(set(sys.modules) & set(json.loads(sys.argv[2])))]))\n"
    )
    example = MAKE_NOTEBOOKS.parents[1] / "example_notebooks" / "iris_classification.ipynb"
    done = subprocess.run([sys.executable, "-c", child, str(example),
                           json.dumps(sorted(HEAVY | {"ipywidgets"}))],
                          capture_output=True, text=True, check=True)
    before, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == []
    assert heavy == []


def test_asking_whether_airflow_is_installed_does_not_import_it():
    """Found by profiling the suite's collection: `find_spec("airflow.sdk")` imported
    Airflow (its settings, logging and a dependency's grammar: 16 s of the suite's
    collection on a loaded machine) in every process that only asked, the runner included."""
    code = ("import sys; from liminal_jupyter.engines.airflow.local_backend import "
            "airflow_installed; print(airflow_installed(), 'airflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["True", "False"], done.stdout + done.stderr


ENTRY_POINTS = [
    ("liminal_jupyter.cli", "main(['--help'])"),
    ("liminal_jupyter.step.__main__", "main(['--help'])"),
    ("liminal_jupyter.step.html", "main(['--help'])"),
    ("liminal_jupyter.engines.airflow.task", "main({})"),
]


@pytest.mark.parametrize(("module", "call"), ENTRY_POINTS)
def test_our_processes_skip_the_grammar_jsonschema_compiles_at_import(module, call):
    """jsonschema (through nbformat, so papermill and every step) imports rfc3987_syntax,
    which compiles ~30 grammars at import: seconds per process, for two `iri` format
    checkers no notebook schema uses. Our entry points leave it out, and nbformat still
    validates notebooks."""
    code = (f"import contextlib, io, sys\nfrom {module} import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), "
            "contextlib.redirect_stderr(io.StringIO()):\n"
            f"    try:\n        {call}\n    except SystemExit:\n        pass\n"
            "import nbformat\n"
            "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
            "nbformat.validate(nb)\n"
            "nb.cells[0]['execution_count'] = 'one'\n"
            "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n"
            "    print('invalid notebook refused')\n"
            "print('grammar imported' if sys.modules.get('rfc3987_syntax') else 'skipped')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["invalid notebook refused", "skipped"], done.stdout


def test_programs_we_start_run_as_python_m_would_without_the_grammar(tmp_path):
    """`airflow dags test` and `airflow db migrate` import jsonschema too (Airflow's
    params): the local Airflow backend starts them through `lean_module_command`, which
    runs the module as `python -m` would (its argv, `__main__`) and leaves the grammar out."""
    from liminal_jupyter.startup import lean_module_command

    (tmp_path / "probe_main.py").write_text(
        "import json, sys\nimport jsonschema\n"
        "print(json.dumps({'name': __name__, 'argv': sys.argv[1:],\n"
        "                  'grammar': bool(sys.modules.get('rfc3987_syntax'))}))\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(lean_module_command("probe_main", "dags", "--conf", "{}"),
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"name": "__main__", "argv": ["dags", "--conf", "{}"],
                                       "grammar": False}

    usage = subprocess.run(lean_module_command("--version"), capture_output=True, text=True)
    assert usage.returncode != 0 and "usage: python -m liminal_jupyter.startup" in usage.stderr
