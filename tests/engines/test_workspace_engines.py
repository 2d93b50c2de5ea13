"""A notebook that reads files beside it runs the same on every engine, with no setting:
local, kfp-local (the workspace travels inside the compiled YAML) and airflow-local (next
to the run's artifacts). Files a step writes reach the later step that reads them and the
run's folder; no temporary working directory is left behind. Each engine run costs tens
of seconds, so one test runs all three."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from liminal_jupyter.cli import main
from liminal_jupyter.engines.airflow.compile import write_dag
from liminal_jupyter.engines.airflow.local_backend import airflow_installed, run_airflow
from liminal_jupyter.engines.compiling import CompileError
from liminal_jupyter.engines.kfp.compile import compile_pipeline
from liminal_jupyter.engines.kfp.local_backend import run_kfp_local
from liminal_jupyter.notebook.parse import parse_notebook
from liminal_jupyter.runs.store import RunStore
from tests.engines.workspace_notebook import write_workspace_notebook

EXPECTED = {"total": 33, "rows": 11}  # 11 rows, 3 x 11 after scaling: read from every file


def test_a_notebook_reading_its_files_gives_the_same_results_on_every_engine(
        tmp_path, monkeypatch, capsys):
    if not airflow_installed():
        pytest.fail("Apache Airflow is not installed; `make install` installs it")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the engines' child processes
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    notebook = write_workspace_notebook(tmp_path / "nb")
    folder = notebook.parent
    store = RunStore(folder / ".liminal")

    runs = {}
    for backend, run in (("kfp-local", run_kfp_local), ("airflow", run_airflow)):
        run_id, status, metrics = run(notebook, {})
        assert status == "succeeded", store.get_run(run_id).message
        assert metrics == pytest.approx(EXPECTED)
        runs[backend] = run_id
    # The steps ran away from the notebook's folder: nothing was written into it.
    assert not (folder / "report.csv").exists()
    assert not list(temp.glob("liminal-workdir-*"))

    capsys.readouterr()
    assert main(["run", "--no-tracking", "--json", str(notebook)]) == 0
    local_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    local_metrics = {k: v for s in store.steps(local_id) for k, v in (s.metrics or {}).items()}
    assert local_metrics == pytest.approx(EXPECTED)
    written = (folder / "report.csv").read_text()  # locally steps run in the folder
    runs["local"] = local_id
    for backend, run_id in runs.items():
        steps = {s.step: s for s in store.steps(run_id)}
        assert {k: v for s in steps.values() for k, v in (s.metrics or {}).items()} == \
            pytest.approx(local_metrics), backend
        kept = store.step_dir(run_id, "report") / "files" / "report.csv"
        assert kept.read_text() == written, backend
        assert main(["show", run_id, "--dir", str(folder)]) == 0
        assert "files:   report.csv" in capsys.readouterr().out


def test_a_symlink_out_of_the_notebook_folder_is_refused_at_compile(tmp_path):
    notebook = write_workspace_notebook(tmp_path / "nb", {"files": ["data/"]})
    (tmp_path / "private.csv").write_text("kind,size\n")
    (notebook.parent / "data" / "private.csv").symlink_to(tmp_path / "private.csv")
    pipeline = parse_notebook(notebook)
    for compile_it in (lambda: compile_pipeline(pipeline, tmp_path / "p.yaml"),
                       lambda: write_dag(pipeline, tmp_path / "dags" / "p.py")):
        with pytest.raises(CompileError, match=r"'data/private.csv' is a symlink to "
                                               r".*private.csv, outside the notebook's"):
            compile_it()
    assert not (tmp_path / "p.yaml").exists()


def test_a_large_archive_needs_a_workspace_uri_and_the_yaml_then_carries_only_its_address(
        tmp_path):
    notebook = write_workspace_notebook(tmp_path / "nb", {"files": ["data/"]})
    (notebook.parent / "data" / "noise.bin").write_bytes(os.urandom(1_200_000))
    pipeline = parse_notebook(notebook)
    with pytest.raises(CompileError, match="--workspace-uri"):
        compile_pipeline(pipeline, tmp_path / "p.yaml")
    store = tmp_path / "bucket"
    compile_pipeline(pipeline, tmp_path / "p.yaml", workspace_uri=str(store))
    archive = next(store.glob("workspace-*.tar.gz"))
    text = (tmp_path / "p.yaml").read_text()
    assert archive.name in text and len(text) < 200_000


def test_where_the_archive_travels_for_kfp_and_airflow(tmp_path):
    """KFP: a small archive inside the YAML, only in the steps that name files; Airflow:
    next to the run folders, the DAG naming its sha256 and location."""
    notebook = write_workspace_notebook(tmp_path / "nb")
    pipeline = parse_notebook(notebook)
    compile_pipeline(pipeline, tmp_path / "p.yaml", python_path=tmp_path / "p.py")
    source = (tmp_path / "p.py").read_text()
    assert source.count("'embedded': ") == 3  # every step imports helpers.py
    assert "report.csv" not in pipeline.step("check").files

    result = write_dag(pipeline, tmp_path / "dags" / "p.py")
    archive = next((tmp_path / "nb" / ".liminal" / "airflow" / "workspace").glob("*.tar.gz"))
    dag = result.path.read_text()
    assert archive.name in dag and archive.name[len("workspace-"):-len(".tar.gz")] in dag
    assert "WORKDIR = None" in dag


def test_a_file_gone_since_the_analysis_is_a_compile_error_naming_step_cell_and_line(
        tmp_path):
    notebook = write_workspace_notebook(tmp_path / "nb")
    pipeline = parse_notebook(notebook)
    (notebook.parent / "data" / "train.csv").unlink()
    with pytest.raises(CompileError, match=r"'data/train.csv' \(named by step 'load', notebook "
                                           r"cell 1 \(id c1\), line 2\) does not exist"):
        compile_pipeline(pipeline, tmp_path / "p.yaml")


def test_editing_a_data_file_changes_only_the_kfp_steps_that_read_it(tmp_path):
    """KFP caches a task by its definition: each step carries an archive of its own files
    (when the workspace is small), so editing data/train.csv changes the component of
    `load` only, and a KFP run with caching re-runs `load` and what reads its outputs."""
    notebook = write_workspace_notebook(tmp_path / "nb")
    pipeline = parse_notebook(notebook)

    def components(name):
        compile_pipeline(pipeline, tmp_path / f"{name}.yaml", python_path=tmp_path / f"{name}.py")
        text = (tmp_path / f"{name}.py").read_text()
        return {step: text.split(f"def step_{step}(")[1].split("\n@dsl")[0]
                for step in ("load", "report", "check")}

    before = components("before")
    (notebook.parent / "data" / "train.csv").write_text("kind,size\na,1\n")
    after = components("after")
    assert before["load"] != after["load"]
    assert before["report"] == after["report"] and before["check"] == after["check"]
