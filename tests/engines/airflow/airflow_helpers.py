"""Helpers for the Airflow tests: load DAG files with Airflow's own DagBag, run them for real.

Not a conftest.py: test modules are imported by basename here, and a second `conftest`
would shadow tests/conftest.py. Test modules import the fixtures they use from here.

Airflow configures logging and reads its settings once per process at import, so every
DagBag load and every `airflow dags test` happens in a child process with its own
throwaway AIRFLOW_HOME; the pytest process never imports Airflow. The SQLite database is
migrated once per test session (the `airflow_cache` folder, airflow_sessions.py) and
copied for each run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from liminal_jupyter.engines.airflow.local_backend import airflow_env, airflow_installed

if not airflow_installed():  # make install installs the extra; CI must never skip these
    if os.environ.get("CI"):
        raise RuntimeError("Apache Airflow is not installed; `make install` installs it")
    pytest.skip("Apache Airflow is not installed: pip install -e '.[test,airflow]'",
                allow_module_level=True)

INSPECT = textwrap.dedent("""\
    import json, sys
    from types import SimpleNamespace
    from airflow.dag_processing.dagbag import DagBag

    folder, context = sys.argv[1], json.loads(sys.argv[2])
    bag = DagBag(dag_folder=folder)

    def plain(value):
        return json.loads(json.dumps(value, default=str))

    def task_info(task):
        info = {
            "operator": type(task).__name__,
            "upstream": sorted(task.upstream_task_ids),
            "retries": task.retries,
            "timeout": task.execution_timeout.total_seconds() if task.execution_timeout
            else None,
        }
        for name in ("op_kwargs", "image", "cmds", "labels", "annotations"):
            if hasattr(task, name):
                info[name] = plain(getattr(task, name))
        if getattr(task, "container_resources", None) is not None:
            info["limits"] = plain(task.container_resources.limits)
        if getattr(task, "secrets", None):
            info["secrets"] = [plain(vars(s)) for s in task.secrets]
        if getattr(task, "volume_mounts", None):
            info["mounts"] = [m.mount_path for m in task.volume_mounts]
        if context is not None and type(task).__name__ != "PythonOperator":
            task.render_template_fields({**context, "ti": SimpleNamespace(try_number=1)})
            if hasattr(task, "bash_command"):
                info["bash_command"] = task.bash_command
                info["env"] = dict(task.env)
            else:
                info["env"] = {e.name: e.value for e in task.env_vars}
        return info

    dags = {}
    for dag_id, dag in bag.dags.items():
        params = {name: {"value": plain(dag.params[name]),
                         "schema": plain(dag.params.get_param(name).schema),
                         "description": dag.params.get_param(name).description}
                  for name in dag.params}
        dags[dag_id] = {
            "schedule": dag.schedule if isinstance(dag.schedule, str) or dag.schedule is None
            else str(dag.schedule),
            "catchup": dag.catchup,
            "params": params,
            "tasks": {t.task_id: task_info(t) for t in dag.tasks},
        }
    print("LIMINAL-DAGS " + json.dumps({"import_errors": bag.import_errors, "dags": dags}))
""")


@pytest.fixture(autouse=True)
def isolated_airflow(airflow_cache, monkeypatch):
    """Every test uses the session's database cache, never ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(airflow_cache))


# Quotes of every kind, a newline, Jinja, shell and Python that would run if pasted.
HOSTILE = ('it\'s "q" \'\'\' """ \\n\n{{ 7 * 7 }} {% raw %} $(touch PWNED) `touch PWNED` '
           '\'; import os; os.system("touch PWNED") #')


def inspect_dags(folder: Path, context: dict | None = None) -> dict:
    """What DagBag makes of every DAG file in `folder`: import errors, and per DAG its
    schedule, params and tasks. With `context` ({"params": ..., "run_id": ...}), templated
    fields of bash/kubernetes tasks are rendered as Airflow would before running them."""
    home = folder.parent / f"{folder.name}-home"
    home.mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", INSPECT, str(folder), json.dumps(context)],
        capture_output=True, text=True, timeout=300, env=airflow_env(home, folder),
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("LIMINAL-DAGS ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1].split(" ", 1)[1])


def dags_test(dag_file: Path, dag_id: str, conf: dict) -> subprocess.CompletedProcess:
    """`airflow dags test DAG_ID --conf CONF` on a compiled file, in a fresh AIRFLOW_HOME
    with a copy of the session's migrated database."""
    import shutil

    from liminal_jupyter.engines.airflow.local_backend import new_home

    home, env = new_home(dag_file.parent)
    try:
        return subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id, "--conf",
             json.dumps(conf), "--dagfile-path", str(dag_file)],
            capture_output=True, text=True, timeout=600, env=env, cwd=dag_file.parent,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
