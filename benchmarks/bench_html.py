"""What HTML pages of executed notebooks cost (step/html.py, runs/report.py), side by side.

The claims under test:
  - rendering a step's executed notebook to HTML costs little per step once nbconvert is
    imported, and a local run renders them off its critical path: the run's recorded
    duration does not grow, and its wall time (as a terminal waits for it) grows by
    little more than the last page;
  - the report of a 50-step run renders in a few seconds and is one file of a few
    hundred kilobytes (the lab stylesheet once, each notebook's body after it).

Rows, all on copies of the notebooks in a temporary folder, as subprocesses (interpreter
start included), interleaved so that machine noise hits all rows alike:

  (a) render, cold     a fresh interpreter renders one executed step notebook of the iris
                       example: import nbconvert + build its Jinja environment + render.
                       What a KFP pod or an Airflow task pays for its step's page.
  (b) render, warm     the same page rendered again in the same process, per step of the
                       iris run: what the local runner's background thread pays per step.
  (c) run, no HTML     `liminal-nb run iris --no-tracking --no-cache --no-html`.
  (d) run, HTML        the same with the pages (the default). The run's own duration (from
                       the run store: started -> ended) is printed beside the wall time.
  (e) 50 steps         a generated 50-step notebook (make_notebooks.py, 500 cells), run with
                       --jobs 2 with and without pages (interleaved); then `liminal-nb
                       report` of the last run with pages (it reads the pages the run left)
                       and of the last one without (the report renders every page itself).

    .venv/bin/python benchmarks/bench_html.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_notebooks" / "iris_classification.ipynb"
BIN = Path(sys.executable).parent
LIMINAL_NB = str(BIN / "liminal-nb")

COLD = """\
import sys, time
t0 = time.perf_counter()
import nbconvert
from liminal_jupyter.step.html import render_html
t1 = time.perf_counter()
page = render_html(sys.argv[1])
t2 = time.perf_counter()
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {len(page)}")
"""

WARM = """\
import json, sys, time
from liminal_jupyter.step.html import render_html
render_html(sys.argv[1])  # the import and the exporter, paid once
times = {}
for path in sys.argv[1:]:
    t0 = time.perf_counter()
    render_html(path)
    times[path] = time.perf_counter() - t0
print(json.dumps(times))
"""


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return took, done.stdout


def last_run(folder: Path) -> dict:
    _, out = timed([LIMINAL_NB, "runs", str(folder), "--json", "--limit", "1"], folder)
    return json.loads(out)[0]


def step_notebooks(folder: Path, run_id: str) -> list[str]:
    return sorted(str(p) for p in (folder / ".liminal" / "runs" / run_id).glob(
        "steps/*/executed.ipynb"))


def run_rows(work: Path, repeat: int) -> dict[str, list[float]]:
    notebook = work / "iris" / EXAMPLE.name
    notebook.parent.mkdir()
    shutil.copy(EXAMPLE, notebook)
    base = [LIMINAL_NB, "run", str(notebook), "--no-tracking", "--no-cache", "--quiet"]
    rows: dict[str, list[float]] = {"run, no HTML": [], "run, HTML": [],
                                    "recorded, no HTML": [], "recorded, HTML": []}
    timed(base + ["--no-html"], notebook.parent)  # warm the file cache and .pyc files
    for _ in range(repeat):
        for label, extra in (("no HTML", ["--no-html"]), ("HTML", [])):
            took, _ = timed(base + extra, notebook.parent)
            run = last_run(notebook.parent)
            rows[f"run, {label}"].append(took)
            rows[f"recorded, {label}"].append(run["ended"] - run["started"])
    return rows, notebook.parent, last_run(notebook.parent)["run_id"]


def render_rows(folder: Path, run_id: str, repeat: int) -> dict[str, list[float]]:
    notebooks = step_notebooks(folder, run_id)
    rows: dict[str, list[float]] = {"nbconvert import": [], "render, cold": []}
    sizes = []
    for _ in range(repeat):
        _, out = timed([sys.executable, "-c", COLD, notebooks[0]], folder)
        imported, rendered, size = out.split()
        rows["nbconvert import"].append(float(imported))
        rows["render, cold"].append(float(imported) + float(rendered))
        sizes.append(int(size))
    _, out = timed([sys.executable, "-c", WARM, *notebooks], folder)
    for path, took in json.loads(out).items():
        rows[f"render, warm: {Path(path).parent.name}"] = [took]
    print(f"page size of one iris step: {sizes[0] / 1024:.0f} KiB")
    return rows


def report_rows(work: Path, repeat: int) -> dict[str, list[float]]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from make_notebooks import write_notebook

    folder = work / "fifty"
    folder.mkdir()
    notebook = write_notebook(folder / "fifty.ipynb", 500, magics=False)
    runs = {}
    rows: dict[str, list[float]] = {}
    command = [LIMINAL_NB, "run", str(notebook), "--no-tracking", "--no-cache", "--quiet",
               "--jobs", "2"]
    timed(command + ["--no-html"], folder)  # warm the file cache and .pyc files
    for _ in range(repeat):
        for label, extra in (("pages of the run", []), ("renders every page", ["--no-html"])):
            took, _ = timed(command + extra, folder)
            run = last_run(folder)
            runs[label] = run["run_id"]
            name = "HTML" if not extra else "no HTML"
            rows.setdefault(f"50-step run, {name}", []).append(took)
            rows.setdefault(f"50-step recorded, {name}", []).append(run["ended"] - run["started"])
    assert all(len(step_notebooks(folder, r)) == 50 for r in runs.values())
    assert not list((folder / ".liminal" / "runs" / runs["renders every page"]).glob(
        "steps/*/executed.html"))
    for _ in range(repeat):
        for label, run_id in runs.items():
            out = folder / f"report-{run_id}.html"
            took, _ = timed([LIMINAL_NB, "report", run_id, "--dir", str(folder),
                             "-o", str(out)], folder)
            rows.setdefault(f"50-step report, {label}", []).append(took)
    for label, run_id in runs.items():
        size = (folder / f"report-{run_id}.html").stat().st_size
        print(f"50-step report ({label}): {size / 1024:.0f} KiB, one file")
    return rows


def show(rows: dict[str, list[float]]) -> None:
    width = max(len(k) for k in rows)
    print(f"{'row':<{width}}  {'min':>8}  {'median':>8}  n")
    for name, values in rows.items():
        print(f"{name:<{width}}  {min(values):8.3f}  {statistics.median(values):8.3f}  "
              f"{len(values)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-html-") as tmp:
        work = Path(tmp)
        runs, folder, run_id = run_rows(work, args.repeat)
        show(runs)
        print()
        show(render_rows(folder, run_id, args.repeat))
        print()
        show(report_rows(work, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
