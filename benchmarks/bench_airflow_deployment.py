"""iris on a real Airflow 3 deployment against `liminal-nb run --no-tracking`, with each
task's time broken down.

Starts its own deployment (PostgreSQL, api-server, scheduler, dag-processor, LocalExecutor;
tests/engines/airflow/airflow_deployment.py's helpers), then in one run:

  submit-to-done   `liminal-nb submit --engine airflow` (DAG file written, parsed, run
                   triggered) and `liminal-nb watch --interval 1` to the end, wall time
  local            `liminal-nb run --no-tracking` of the same notebook and parameters

and per task, from the task instances' timestamps (REST API) and the task's own records
(airflow-task.json written by runtime.run_task, result.json by the step executor):

  sched    scheduling delay: task start_date - ready time (the latest upstream end_date,
           or the DAG run's start_date for a first task)
  task-in  start_date -> run_task started: Airflow's task runner, parsing the DAG file,
           importing our task runtime
  ours     run_task's wall time less the step's own: the child interpreter's start and
           our imports, fetching inputs, the HTML page, manifest and task state
  step     the step executor's own duration (kernel start, the cells, saving outputs)
  task-out run_task ended -> end_date: Airflow's bookkeeping (XCom, state)

    .venv/bin/python benchmarks/bench_airflow_deployment.py
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engines.airflow.airflow_deployment import start_deployment  # noqa: E402

CLI = [sys.executable, "-m", "liminal_jupyter"]


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def main() -> None:
    from liminal_jupyter.engines.airflow.rest import AirflowClient, Credentials

    work = Path(tempfile.mkdtemp(prefix="liminal-bench-airflow-"))
    work.chmod(0o755)  # PostgreSQL runs as its own user under it
    notebook = work / "iris_classification.ipynb"
    shutil.copy(ROOT / "example_notebooks" / "iris_classification.ipynb", notebook)
    started = time.monotonic()
    try:
        deployment, stack = start_deployment(work / "deployment")  # stops itself on failure
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    print(f"deployment up in {time.monotonic() - started:.1f} s")
    try:
        login = ["--host", deployment.url, "--username", deployment.username,
                 "--password", deployment.password]
        t0 = time.monotonic()
        submitted = subprocess.run(
            [*CLI, "submit", str(notebook), "--engine", "airflow", *login,
             "--dags-folder", str(deployment.dags), "-p", "n_estimators=20"],
            capture_output=True, text=True, check=True)
        t_submit = time.monotonic() - t0
        run_id = submitted.stdout.split("record: run ", 1)[1].split()[0]
        subprocess.run([*CLI, "watch", run_id, "--dir", str(work), "--interval", "1",
                        *login[2:]], capture_output=True, text=True, check=True)
        t_remote = time.monotonic() - t0

        t0 = time.monotonic()
        subprocess.run([*CLI, "run", "--no-tracking", "-p", "n_estimators=20",
                        str(notebook)], capture_output=True, text=True, check=True)
        t_local = time.monotonic() - t0

        client = AirflowClient(deployment.url, Credentials(deployment.username,
                                                           deployment.password))
        dag_id, dag_run_id = "iris-classification", f"liminal__{run_id}"
        run = client.dag_run(dag_id, dag_run_id)
        tis = {t["task_id"]: t for t in client.task_instances(dag_id, dag_run_id)}
        from liminal_jupyter.notebook.parse import parse_notebook

        steps = parse_notebook(notebook)
        folder = work / ".liminal" / "airflow" / dag_run_id
        print(f"\nsubmit (write, parse, trigger): {t_submit:6.1f} s")
        print(f"submit-to-done on Airflow:      {t_remote:6.1f} s")
        print(f"liminal-nb run --no-tracking:   {t_local:6.1f} s  "
              f"(ratio {t_remote / t_local:.1f}x)\n")
        print(f"{'task':<10}{'sched':>8}{'task-in':>9}{'ours':>9}{'step':>8}"
              f"{'task-out':>10}{'total':>8}")
        sums = [0.0] * 6
        for name in steps.order():
            ti = tis[name]
            upstream = steps.step(name).upstream
            ready = max((_epoch(tis[u]["end_date"]) for u in upstream),
                        default=_epoch(run.get("start_date")))
            start, end = _epoch(ti["start_date"]), _epoch(ti["end_date"])
            state = json.loads((folder / name / "airflow-task.json").read_text())
            result = json.loads((folder / name / "result.json").read_text())
            step = float(result.get("duration") or 0.0)
            task_in = state["started"] - start
            body = state["ended"] - state["started"]
            row = [start - ready, task_in, body - step, step, end - state["ended"],
                   end - ready]
            sums = [a + b for a, b in zip(sums, row, strict=True)]
            print(f"{name:<10}" + "".join(f"{v:>{w}.1f}" for v, w in
                                          zip(row, (8, 9, 9, 8, 10, 8), strict=True)))
        print(f"{'sum':<10}" + "".join(f"{v:>{w}.1f}" for v, w in
                                      zip(sums, (8, 9, 9, 8, 10, 8), strict=True)))
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
