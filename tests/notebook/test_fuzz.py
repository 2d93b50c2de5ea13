"""Fuzzing the parser and the analysis (issue 20): whatever the file, a pipeline or a clear
error, the same both times, and `liminal-nb inspect` exits 0 or 2 with diagnostics.

A quick, derandomized profile (a fixed set of examples, the same on every run); the long
one is stress/fuzz_notebooks.py. The generators are in tests/notebook_strategies.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notebook_strategies import check_notebook, ir_of, notebook_bytes

QUICK = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FOLDER = Path(tempfile.mkdtemp(prefix="liminal-fuzz-"))


@QUICK
@given(notebook_bytes())
def test_any_file_gives_a_pipeline_or_a_clear_error_the_same_both_times(data):
    check_notebook(data, FOLDER / "fuzz.ipynb")


@settings(max_examples=1, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(notebook_bytes(), min_size=12, max_size=12))
def test_the_ir_does_not_depend_on_the_process_hash_seed(batch):
    """Set and dict order must not leak into the IR: two interpreters with different hash
    seeds read the same notebooks and print the same IRs."""
    paths = []
    for number, data in enumerate(batch):
        path = FOLDER / f"seed-{number}.ipynb"
        path.write_bytes(data)
        paths.append(str(path))
    script = ("import json, sys\nfrom notebook_strategies import ir_of\n"
              "print(json.dumps([ir_of(p) for p in sys.argv[1:]]))")
    tests = str(Path(__file__).resolve().parent.parent)
    irs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": tests}
        done = subprocess.run([sys.executable, "-c", script, *paths], env=env,
                              capture_output=True, text=True, check=True)
        irs.append(json.loads(done.stdout))
    assert irs[0] == irs[1]
    assert irs[0] == json.loads(json.dumps([ir_of(p) for p in paths]))
