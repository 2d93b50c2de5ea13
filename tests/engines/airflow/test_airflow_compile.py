"""`liminal-nb compile --target airflow`: every generated DAG file loaded by Airflow's DagBag.

Each check reads what Airflow itself built from the file (tasks, upstream ids, params and
their JSON schemas, schedule, retries, timeouts, operator settings), in a child process
(see airflow_helpers.py). Running the DAGs is in test_airflow_run.py.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import subprocess
import sys
import textwrap
from importlib.metadata import version

import pytest

from liminal_jupyter.cli_compile import add_compile_command
from liminal_jupyter.engines.airflow.compile import DagOptions, generate_dag, write_dag
from liminal_jupyter.notebook.parse import parse_notebook
from tests.conftest import EXAMPLES, TEST_NOTEBOOKS, code
from tests.engines.airflow.airflow_helpers import (  # noqa: F401 - fixtures
    HOSTILE,
    inspect_dags,
    isolated_airflow,
)

IRIS = EXAMPLES / "iris_classification.ipynb"
HAVE_CNCF = importlib.util.find_spec("airflow.providers.cncf.kubernetes") is not None


def compile_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="liminal-nb")
    add_compile_command(parser.add_subparsers())
    args = parser.parse_args(["compile", *argv])
    return args.handler(args)


def test_iris_dag_has_a_task_per_step_the_ir_edges_and_typed_params(tmp_path, capsys):
    dags = tmp_path / "dags"
    assert compile_cli(str(IRIS), "--target", "airflow", "-o", str(dags / "iris.py")) == 0
    assert "wrote" in capsys.readouterr().out
    pipeline = parse_notebook(IRIS)

    found = inspect_dags(dags)
    assert found["import_errors"] == {}
    dag = found["dags"]["iris-classification"]
    assert set(dag["tasks"]) == {s.name for s in pipeline.steps}
    for step in pipeline.steps:
        task = dag["tasks"][step.name]
        assert task["operator"] == "PythonOperator"
        assert task["upstream"] == sorted(step.upstream)
        assert task["op_kwargs"] == {"step": step.name}
    assert dag["tasks"]["evaluate"]["upstream"] == ["prepare", "train"]
    assert dag["schedule"] is None
    assert dag["params"]["n_estimators"] == {
        "value": 100, "schema": {"type": "integer"}, "description": "trees in the forest"}
    assert dag["params"]["test_size"]["schema"] == {"type": "number"}
    assert set(dag["params"]) == {p.name for p in pipeline.parameters}


def test_schedule_retries_timeouts_and_param_schemas(write_nb, tmp_path):
    nb = write_nb([
        code("model = 'rf'  # type: Literal['rf','lr']  the family\n"
             "trees = 100  # range: 10..500 number of trees\n"
             "seed = None  # type: Optional[int]\n"
             "layers = [8, 4]\nextra = {'a': 1}\nflag = True", "parameters"),
        code("a = model", "step:first", "retries:2", "timeout:30m"),
        code("b = a + str(seed) + str(layers) + str(extra) + str(flag) + str(trees)",
             "step:second-one"),
        code("c = 1", "step:third", "after:first"),
    ], {"liminal": {"schedule": "@daily"}})
    dags = tmp_path / "dags"
    write_dag(parse_notebook(nb), dags / "nb.py")

    dag = inspect_dags(dags)["dags"]["nb"]
    assert dag["schedule"] == "@daily" and dag["catchup"] is False
    first = dag["tasks"]["first"]
    assert (first["retries"], first["timeout"]) == (2, 1800.0)
    assert dag["tasks"]["second-one"]["upstream"] == ["first"]
    assert dag["tasks"]["third"]["upstream"] == ["first"]
    params = dag["params"]
    assert params["model"]["schema"] == {"type": "string", "enum": ["rf", "lr"]}
    assert params["trees"]["schema"] == {"type": "integer", "minimum": 10, "maximum": 500}
    assert params["seed"]["value"] is None
    assert params["seed"]["schema"] == {"type": ["integer", "null"]}
    assert (params["layers"]["value"], params["layers"]["schema"]) == ([8, 4], {"type": "array"})
    assert params["extra"]["schema"] == {"type": "object"}
    assert params["flag"]["schema"] == {"type": "boolean"}


def test_bash_operator_dag_renders_a_fixed_command_and_json_params(tmp_path):
    dags = tmp_path / "dags"
    assert compile_cli(str(TEST_NOTEBOOKS / "kale_titanic_style.ipynb"), "--target",
                       "airflow", "--airflow-operator", "bash", "-o",
                       str(dags / "titanic.py")) == 0
    context = {"params": {"C": 0.5}, "run_id": "manual__2026-11-26T15:00:00+00:00"}
    dag = next(iter(inspect_dags(dags, context)["dags"].values()))
    results = dag["tasks"]["results"]
    assert results["operator"] == "BashOperator"
    assert results["upstream"] == ["train_lr", "train_tree"]
    assert results["bash_command"] == f"{sys.executable} -m liminal_jupyter.engines.airflow.task"
    env = results["env"]
    assert env["LIMINAL_STEP"] == "results"
    assert json.loads(env["LIMINAL_PARAMETERS"]) == {"C": 0.5}
    assert env["LIMINAL_RUN_ID"] == context["run_id"]
    assert json.loads(env["LIMINAL_PIPELINE"])["name"] == parse_notebook(
        TEST_NOTEBOOKS / "kale_titanic_style.ipynb").name


def test_hostile_text_stays_inert_in_the_dag_file_and_in_rendered_fields(write_nb, tmp_path):
    """Defaults, help text and step code with quotes, newlines, Jinja and shell: the file
    is valid Python holding them as data, and Airflow's rendering leaves them as written."""
    nb = write_nb([
        code(f"text = {HOSTILE!r}  # {HOSTILE.splitlines()[0]}", "parameters"),
        code(f"shown = text + {HOSTILE!r}", "step:show"),
    ])
    pipeline = parse_notebook(nb)
    dags = tmp_path / "dags"
    for operator in ("python", "bash"):
        source, _ = generate_dag(pipeline, DagOptions(operator=operator, dag_id=operator))
        ast.parse(source)  # never broken by the text
        (dags / f"{operator}.py").parent.mkdir(exist_ok=True)
        (dags / f"{operator}.py").write_text(source)
        namespace = {}
        exec(compile(source.split("\nwith DAG(")[0].replace("from airflow", "# "), "dag",
                     "exec"), namespace)  # the constants alone, without Airflow
        assert json.loads(namespace["PIPELINE_IR"])["steps"][0]["cells"][0]["source"] == \
            f"shown = text + {HOSTILE!r}"

    found = inspect_dags(dags, {"params": {"text": HOSTILE}, "run_id": "manual__x"})
    assert found["import_errors"] == {}
    assert found["dags"]["python"]["params"]["text"]["value"] == HOSTILE
    env = found["dags"]["bash"]["tasks"]["show"]["env"]
    assert json.loads(env["LIMINAL_PARAMETERS"]) == {"text": HOSTILE}
    assert json.loads(env["LIMINAL_PIPELINE"]) == json.loads(namespace["PIPELINE_IR"])
    assert not list(tmp_path.rglob("PWNED"))


@pytest.mark.skipif(not HAVE_CNCF, reason="apache-airflow-providers-cncf-kubernetes is not "
                    "installed (make install installs it)")
def test_kubernetes_operator_dag_carries_image_resources_secrets_and_volumes(write_nb, tmp_path):
    nb = write_nb([
        code("k = 3", "parameters"),
        code("a = k", "step:prep", "image:reg/ml:2", "cpu:2", "memory:4Gi", "gpu:1",
             "env:MODE=fast", "secret:db-creds:password:DB_PASS", "label:team:ml",
             "annotation:owner:me"),
        code("b = a", "step:fit"),
    ], {"liminal": {"volumes": [{"pvc": "shared", "mount_path": "/data"}],
                    "artifacts": "s3://bucket/runs"}})
    dags = tmp_path / "dags"
    assert compile_cli(str(nb), "--target", "airflow", "--airflow-operator", "kubernetes",
                       "-o", str(dags / "k.py")) == 0
    dag = inspect_dags(dags, {"params": {"k": 4}, "run_id": "r1"})["dags"]["nb"]
    prep, fit = dag["tasks"]["prep"], dag["tasks"]["fit"]
    assert prep["operator"] == "KubernetesPodOperator"
    assert prep["image"] == "reg/ml:2" and fit["image"] == "python:3.11"
    assert prep["cmds"] == ["python", "-m", "liminal_jupyter.engines.airflow.task"]
    # fit's stock python image lacks liminal-jupyter: its pod installs the step's runtime
    # (this exact liminal-jupyter, without its own dependencies), then runs the step.
    shell, flag, script = fit["cmds"]
    assert (shell, flag) == ("sh", "-c")
    install, ours, run = script.split(" && ")
    assert install.startswith("python -m pip install") and "'pandas>=2.0'" in install
    assert ours.endswith(f"--no-deps liminal-jupyter=={version('liminal-jupyter')}")
    assert run == "exec python -m liminal_jupyter.engines.airflow.task"
    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0
    assert prep["limits"] == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert prep["secrets"][0]["deploy_target"] == "DB_PASS"
    assert prep["secrets"][0]["secret"] == "db-creds" and prep["secrets"][0]["key"] == "password"
    assert prep["labels"]["team"] == "ml" and prep["annotations"] == {"owner": "me"}
    assert prep["mounts"] == ["/data"]
    assert prep["env"]["MODE"] == "fast"
    assert prep["env"]["LIMINAL_ARTIFACTS"] == "s3://bucket/runs"
    assert json.loads(prep["env"]["LIMINAL_PARAMETERS"]) == {"k": 4}
    assert fit["upstream"] == ["prep"]


def test_default_path_notes_and_bad_options(write_nb, tmp_path, capsys):
    nb = write_nb([code("a = 1", "step:one", "cpu:2")])
    assert compile_cli(str(nb), "--target", "airflow") == 0
    captured = capsys.readouterr()
    assert (tmp_path / "dags" / "nb.py").is_file()
    assert "cpu: apply to --airflow-operator kubernetes only" in captured.err
    assert compile_cli(str(nb), "--target", "airflow", "--python") == 2
    assert compile_cli(str(nb), "--target", "airflow", "--dag-id", "no spaces") == 2
    assert "dag id" in capsys.readouterr().err


def test_an_artifacts_connection_is_written_as_its_id_and_checked(write_nb, tmp_path, capsys):
    """The DAG names the Airflow connection the tasks read s3:// keys from (metadata or
    --artifacts-connection), Airflow loads it, and what cannot work is refused at compile."""
    nb = write_nb([code("a = 1", "step:one")],
                  {"liminal": {"airflow": {"artifacts_connection": "team_s3"}}})
    dags = tmp_path / "dags"
    s3 = ("--artifacts", "s3://bucket/runs")
    assert compile_cli(str(nb), "--target", "airflow", *s3, "-o", str(dags / "a.py")) == 0
    assert "ARTIFACTS_CONNECTION = 'team_s3'" in (dags / "a.py").read_text()
    assert compile_cli(str(nb), "--target", "airflow", *s3, "--artifacts-connection",
                       "other.conn", "--dag-id", "b", "-o", str(dags / "b.py")) == 0
    assert "ARTIFACTS_CONNECTION = 'other.conn'" in (dags / "b.py").read_text()
    found = inspect_dags(dags)
    assert found["import_errors"] == {} and len(found["dags"]) == 2
    capsys.readouterr()

    assert compile_cli(str(nb), "--target", "airflow", *s3, "--airflow-operator", "bash",
                       "-o", str(tmp_path / "c.py")) == 2
    assert "python only, not bash" in capsys.readouterr().err
    assert compile_cli(str(nb), "--target", "airflow", "--artifacts", "gs://bucket/runs",
                       "-o", str(tmp_path / "d.py")) == 2
    assert "s3:// artifacts only, not 'gs://bucket/runs'" in capsys.readouterr().err
    assert compile_cli(str(nb), "--target", "airflow", *s3, "--artifacts-connection",
                       "no spaces", "-o", str(tmp_path / "e.py")) == 2
    assert "not a valid Airflow connection id" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in ("c.py", "d.py", "e.py"))


def test_an_invalid_notebook_writes_no_dag(write_nb, tmp_path, capsys):
    nb = write_nb([code("y = undefined_name + 1", "step:broken")])
    assert compile_cli(str(nb), "--target", "airflow") == 2
    assert "undefined_name" in capsys.readouterr().err
    assert not (tmp_path / "dags").exists()


BLOCK_AIRFLOW = textwrap.dedent("""\
    import importlib.abc, sys

    class NoAirflow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "airflow" or name.startswith("airflow."):
                raise ModuleNotFoundError(f"No module named {name!r}")

    sys.meta_path.insert(0, NoAirflow())
    from liminal_jupyter.cli import main
    code = main(sys.argv[1:])
    print("LIMINAL-EXIT", code, sorted(m for m in sys.modules if m.startswith("airflow")))
""")


def test_without_airflow_compile_still_writes_and_run_says_how_to_install(write_nb, tmp_path):
    nb = write_nb([code("a = 1", "step:one")])
    compiled = subprocess.run([sys.executable, "-c", BLOCK_AIRFLOW, "compile", str(nb),
                               "--target", "airflow"], capture_output=True, text=True,
                              timeout=120)
    assert "LIMINAL-EXIT 0 []" in compiled.stdout, compiled.stderr
    assert (tmp_path / "dags" / "nb.py").is_file()
    ran = subprocess.run([sys.executable, "-c", BLOCK_AIRFLOW, "run", str(nb), "--backend",
                          "airflow"], capture_output=True, text=True, timeout=120)
    assert "LIMINAL-EXIT 2" in ran.stdout, ran.stderr
    assert "pip install 'liminal-jupyter[airflow]'" in ran.stderr
    assert not (tmp_path / ".liminal" / "runs.db").exists()
