"""What one Airflow or KFP task of ours costs beyond the step's own code, broken down.

The claim under test (issue 19): a task pays at most 0.5 s of our own overhead, meaning
interpreter start and imports of ours, not the user's imports and code. A task runs one
step: it starts an interpreter, imports our runtime, starts a kernel, runs the step's
cells through papermill, saves its outputs and renders the executed notebook as HTML.
The alternative it is measured against is papermill running the same one-cell notebook:
an interpreter, papermill's imports, a kernel, the cell. Rows, each a whole process timed
from outside, interleaved and repeated (medians):

  (a) python -c pass              interpreter start, the floor of every process
  (b) import our task runtime     `python -c "import liminal_jupyter.engines.airflow.task"`
                                  plus what a task imports before the step runs
                                  (runtime, pipeline, step executor, marshal, html)
  (c) papermill                   `papermill step.ipynb out.ipynb` of the step's notebook
  (c') papermill, lean start      the same through papermill's API, with the start-up fix
                                  our processes use (startup.py): the fair floor
  (d) step executor               `python -m liminal_jupyter.step run` of the step: what
                                  both engines run (KFP in its component's process,
                                  Airflow in a child of the task)
  (e) airflow task                `python -m liminal_jupyter.engines.airflow.task` (the bash
                                  and kubernetes operators' command): (d) in a child, the
                                  run folder, the HTML page, the task state
  (f) kfp component body          `run_step` as a KFP component calls it, in one process
                                  (kfp's own executor and artifact I/O not included)

The step is `x = 1` with no inputs, so everything above papermill's time is ours:
(e) - (c) and (f) - (c) are the per-task overhead; (b) - (a) the imports' share of it.

    .venv/bin/python benchmarks/bench_task_overhead.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat import v4

PY = sys.executable
BIN = Path(PY).parent

# papermill's own start, less the IRI grammars jsonschema compiles at import and no
# notebook schema uses (liminal_jupyter/startup.py): the fair floor for our rows, which skip
# them too.
PAPERMILL_LEAN = ("from liminal_jupyter.startup import skip_slow_optional_imports as s; s(); "
                  "import sys, papermill; papermill.execute_notebook(sys.argv[1], sys.argv[2], "
                  "kernel_name='python3', progress_bar=False)")

KFP_BODY = """\
import sys, types, json
from pathlib import Path
from liminal_jupyter.engines.kfp.runtime import run_step
root = Path(sys.argv[2])
def artifact(name):
    (root / name).mkdir(parents=True, exist_ok=True)
    return types.SimpleNamespace(path=str(root / name / "data"), metadata={}, uri=str(root / name))
run_step(ir=Path(sys.argv[1]).read_text(), step="step", parameters={}, inputs={},
         step_outputs=artifact("outputs"), executed_notebook=artifact("executed"),
         executed_html=artifact("html"), metrics=None)
"""


def write_inputs(folder: Path) -> tuple[Path, Path]:
    notebook = v4.new_notebook(cells=[v4.new_code_cell("x = 1", metadata={"tags": ["step:step"]})])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / "task.ipynb"
    nbformat.write(notebook, path)
    from liminal_jupyter.notebook.parse import parse_notebook

    ir = folder / "pipeline.json"
    ir.write_text(json.dumps(parse_notebook(path).to_json()))
    return path, ir


def commands(folder: Path, notebook: Path, ir: Path) -> dict[str, tuple[list[str], dict]]:
    env = dict(os.environ)
    task_env = {**env, "LIMINAL_PIPELINE": ir.read_text(), "LIMINAL_STEP": "step",
                "LIMINAL_PARAMETERS": "{}", "LIMINAL_RUN_ID": "bench",
                "LIMINAL_ARTIFACTS": str(folder / "airflow")}
    (folder / "params.json").write_text("{}")
    (folder / "inputs.json").write_text("{}")
    (folder / "kfp_body.py").write_text(KFP_BODY)
    imports = ("import liminal_jupyter.engines.airflow.task, liminal_jupyter.engines.airflow."
               "runtime, liminal_jupyter.pipeline, liminal_jupyter.step.execute, "
               "liminal_jupyter.step.marshal, liminal_jupyter.step.html")
    return {
        "(a) python -c pass": ([PY, "-c", "pass"], env),
        "(b) import our task runtime": ([PY, "-c", "from liminal_jupyter.startup import "
                                         "skip_slow_optional_imports as s; s(); " + imports], env),
        "(c) papermill": ([str(BIN / "papermill"), str(notebook), str(folder / "pm.ipynb"),
                           "-k", "python3", "--log-level", "ERROR"], env),
        "(c') papermill, lean start": ([PY, "-c", PAPERMILL_LEAN, str(notebook),
                                        str(folder / "pm2.ipynb")], env),
        "(d) step executor": ([PY, "-m", "liminal_jupyter.step", "run", "--pipeline", str(ir),
                               "--step", "step", "--output-dir", str(folder / "executor"),
                               "--parameters", str(folder / "params.json"), "--inputs",
                               str(folder / "inputs.json"), "--cwd", str(folder)], env),
        "(e) airflow task": ([PY, "-m", "liminal_jupyter.engines.airflow.task"], task_env),
        "(f) kfp component body": ([PY, str(folder / "kfp_body.py"), str(ir),
                                    str(folder / "kfp")], env),
    }


def timed(command: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command[:4])}...\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="liminal-bench-task-") as tmp:
        folder = Path(tmp)
        notebook, ir = write_inputs(folder)
        rows = commands(folder, notebook, ir)
        for command, env in rows.values():  # warm the file cache and .pyc files
            timed(command, env, folder)
        times: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(args.repeat):
            for name, (command, env) in rows.items():
                times[name].append(timed(command, env, folder))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'row':32} {'min':>7} {'median':>7}   ({args.repeat} runs each, interleaved)")
    for name, values in times.items():
        print(f"{name:32} {min(values):6.2f}s {median[name]:6.2f}s")
    a, b, c, lean = (median[k] for k in ("(a) python -c pass", "(b) import our task runtime",
                                         "(c) papermill", "(c') papermill, lean start"))
    print("\nper task, against papermill of the same step (medians): its CLI | lean start")
    for key in ("(d) step executor", "(e) airflow task", "(f) kfp component body"):
        print(f"  {key:28} {median[key] - c:+6.2f}s | {median[key] - lean:+6.2f}s")
    print(f"  of which our imports (b)-(a)  {b - a:6.2f}s; interpreter start (a) {a:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
