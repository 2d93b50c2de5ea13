"""How long `liminal-nb inspect` takes on a large notebook, next to the alternatives.

The claim under test (DESIGN.md, "Contracts"): `liminal-nb inspect` on a 500-cell notebook
takes well under a second, because nothing heavy (kfp, mlflow, papermill, pandas,
nbformat's validator) is imported on that path.

One run generates a tagged notebook (benchmarks/make_notebooks.py) in a temporary directory
and times, as subprocesses and interleaved so that machine noise hits all of them alike:

  inspect             `liminal-nb inspect big.ipynb`: what a user waits for in a terminal,
                      interpreter start included; full parse, data-flow analysis, validation.
  inspect --json      the same, printing the pipeline IR as JSON (what the panel and CI read).
  inspect, no magics  the same notebook without `%time`/`!` lines: shows the cost of
                      loading IPython's input transformer, which only `!` lines need.
  papermill           `papermill --help-notebook big.ipynb`: what a papermill user reaches
                      for; it only infers the parameters cell, no steps or data flow.
  python -c pass      interpreter start alone: the floor under every subprocess row.

It then runs `main(["inspect", path])` in a fresh interpreter and lists which heavy modules
ended up in `sys.modules`, with their cumulative import time from `python -X importtime`.
Exits non-zero if inspect fails on the generated notebook.

    .venv/bin/python benchmarks/bench_inspect.py [--cells 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import write_notebook  # noqa: E402

HEAVY = [
    "kfp",
    "mlflow",
    "papermill",
    "pandas",
    "numpy",
    "pyarrow",
    "nbformat",
    "jsonschema",
    "IPython",
]
BIN = Path(sys.executable).parent

# Runs in a child interpreter: inspect in-process, then report what got imported.
CHILD = """\
import contextlib, io, json, sys
from liminal_jupyter.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["inspect", sys.argv[1]])
heavy = sorted(set(sys.modules) & set(json.loads(sys.argv[2])))
print(json.dumps({"exit": code, "heavy": heavy}))
"""


def time_command(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stderr}")
    return elapsed


def heavy_imports(notebook: Path) -> tuple[list[str], dict[str, float]]:
    """Heavy modules imported by an in-process inspect, and their cumulative import times."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CHILD, str(notebook), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"in-process inspect failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["exit"] != 0:
        raise SystemExit(f"inspect exited {result['exit']} on {notebook}")
    seconds = {}
    for line in done.stderr.splitlines():  # "import time: self | cumulative | name"
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() in result["heavy"]:
            seconds[parts[2].strip()] = int(parts[1]) / 1e6
    return result["heavy"], seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        big = write_notebook(Path(tmp) / "big.ipynb", args.cells)
        plain = write_notebook(Path(tmp) / "plain.ipynb", args.cells, magics=False)
        cases = {
            "liminal-nb inspect": [str(BIN / "liminal-nb"), "inspect", str(big)],
            "liminal-nb inspect --json": [str(BIN / "liminal-nb"), "inspect", str(big), "--json"],
            "liminal-nb inspect (no magics)": [str(BIN / "liminal-nb"), "inspect", str(plain)],
            "papermill --help-notebook": [str(BIN / "papermill"), "--help-notebook", str(big)],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        for argv_ in cases.values():  # warm the OS file cache; not timed
            time_command(argv_)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, argv_ in cases.items():
                times[name].append(time_command(argv_))

        print(
            f"{args.cells}-cell notebook, {args.repeat} repeats, wall time per run "
            f"(subprocess, interpreter start included)\n"
        )
        print(f"  {'command':<32} {'min':>8} {'median':>8}")
        for name, samples in times.items():
            print(f"  {name:<32} {min(samples):>7.3f}s {statistics.median(samples):>7.3f}s")

        for label, notebook in (("with magics", big), ("no magics", plain)):
            found, seconds = heavy_imports(notebook)
            shown = ", ".join(f"{m} ({seconds.get(m, 0):.3f}s)" for m in found) or "none"
            print(f"\nheavy modules imported by inspect ({label}): {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
